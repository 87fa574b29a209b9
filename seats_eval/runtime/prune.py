"""Token dropping between decoder layers, via forward pre-hooks on the stock layers.

At a drop step after layer l the pre-hook of layer l+1 (i) obtains last-text-token scores,
(ii) asks the method for a keep-mask and (iii) slices the hidden states. (iv) The KV caches
keep only the final survivors (DESIGN 5b), so decoding sees only them: a layer's cache is
read by that layer alone, and in the prefill each layer runs once, so every layer's cache is
pruned once, at the end of the prefill, from the positions it saw to the survivors (one
`index_select` per layer and tensor, not one per drop step after it: the cache's own
operation, runtime/kv_cache.py). What a backbone adds between layers (Qwen3-Omni's
DeepStack) comes from its adapter (`adapter.layer_inputs`), applied to the tokens alive.
Every later layer gets rotary cos/sin, mask and position ids sliced to the kept positions;
survivors keep their original M-RoPE positions. Hooks are inert outside prefill.

Prefix sharing (runtime/prefix.py): a later question on a video runs only its suffix through
the layers up to the first drop step, on a fork of the stored prefix's cache; the pre-hook of
the layer after that drop joins the stored prefix hidden states to the suffix's
(`_join_prefix`), and from there the rotary pair, mask and position ids are the whole
sequence's, so the drop and the later layers compute what the question alone would.

Model parallel (`device_map`): a pre-hook sees the hidden states still on the previous
layer's device, cos/sin and masks on the text model's, and each cache layer lives on its
own layer's device. So every index is moved to the device of the tensor it indexes, and
scores to the layout's device; on one device these moves are no-ops (no copy, no sync).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ..errors import SeamError, SeatsError
from ..layout import TokenLayout
from ..methods.base import DropStep, Method, Plan, PruneRecord
from . import selection
from .attention import base_implementation, is_wrapped, last_row_attention, set_probe
from .devices import execution_device
from .kv_cache import PrunableCache
from .layer_call import LayerCall, cache_keyword
from .prefix import PrefixState, SharedPrefix, media_end

if TYPE_CHECKING:
    from ..adapters.base import LayerInputs, OmniAdapter


@dataclass
class _Join:
    """Where a shared prefix meets a question's suffix: the layer after the first drop step,
    the whole sequence's layout, the prefix's state there (None while filling it) and length."""

    layer: int
    layout: TokenLayout
    state: PrefixState | None
    length: int


def _layer_mask(mask: Any) -> torch.Tensor | None:
    """The decoder layers' mask from the adapter's prefill mask: a tensor (or None), or one
    per attention kind, of which a prefix can be joined only under a single kind (the text
    model would hand each layer its kind's, and the join hands one to every layer)."""
    if not isinstance(mask, dict):
        return mask
    if len(mask) != 1:
        raise SeamError(f"the adapter's prefill mask has {len(mask)} attention kinds ({', '.join(mask)}); "
                        "prefix sharing with drop steps hands one mask to every layer")
    return next(iter(mask.values()))


class PruningRuntime:
    """Owns the in-LLM state of one sample: its phase (prefill, then decode), the KV cache,
    the current kept indices and layout, the method's plan and the record."""

    def __init__(self, adapter: OmniAdapter, method: Method, plan: Plan, layout: TokenLayout, record: PruneRecord,
                 sample: str = "", layer_inputs: LayerInputs | None = None) -> None:
        self.adapter = adapter
        self.method = method
        self.plan = plan
        self.layout = layout  # layout of the current (kept) tokens
        self.record = record
        self.sample = sample
        self.steps: dict[int, DropStep] = {}
        for s in method.drop_steps(adapter.num_layers):
            if not 0 <= s.after_layer < adapter.num_layers - 1:
                raise SeatsError(f"{method.name}: drop after layer {s.after_layer} is out of range")
            if s.after_layer in self.steps:
                raise SeatsError(f"{method.name}: two drop steps after layer {s.after_layer}")
            self.steps[s.after_layer] = s
        self.idx: torch.Tensor | None = None  # kept indices into the LLM input; None = all
        self._seen: list[tuple[int, torch.Tensor | None]] = []  # (last layer, the positions it saw) per drop
        self.phase = "idle"  # set by prefill / decode_step only
        self.cache: Any = None
        self._input_length = 0  # what the text model ran on: what it built the rotary pair and mask for
        self._length = 0  # length of the LLM input, a shared prefix included: what the first layers hold
        self._join: _Join | None = None  # prefix sharing with drop steps: where prefix and suffix meet
        self._whole: dict[str, Any] = {}  # after a join: the layers' per-position inputs for the whole sequence
        self._prefix_counts = (0, 0, 0)  # (text, video, audio) of a shared prefix that did not run here
        self.shared_tokens = 0  # LLM-input tokens whose prefill was shared (0: it ran alone)
        self._sliced_key: tuple[int, int] | None = None
        self._sliced: dict[str, Any] = {}
        self._captured: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []
        self.layout = layout.with_counts()  # counts tracked on the host from here on
        self.layer_inputs = layer_inputs  # the backbone's additions between layers (adapter.layer_inputs)

    # -- installation -------------------------------------------------------------------
    @contextlib.contextmanager
    def installed(self) -> Iterator[PruningRuntime]:
        """Hooks on the stock decoder layers (and score probes on the attention modules that
        need them) for the lifetime of one sample."""
        for i, layer in enumerate(self.adapter.layers):
            self._handles.append(
                layer.register_forward_pre_hook(self._make_hook(i), with_kwargs=True)
            )
        probed = [s.after_layer for s in self.steps.values() if s.score_source == "attention"]
        if probed and not is_wrapped(self.adapter.lm.config):
            raise SeatsError(f"{self.method.name}: attention scores need the runtime's attention wrapper on the "
                             "text model; run samples through driver.SamplePipeline, which installs it")
        for layer_idx in probed:
            set_probe(self.adapter.layers[layer_idx].self_attn, self._make_probe(layer_idx))
        try:
            yield self
        finally:
            for h in self._handles:
                h.remove()
            self._handles.clear()
            for layer_idx in probed:
                set_probe(self.adapter.layers[layer_idx].self_attn, None)
            self.phase = "idle"

    # -- the two phases -------------------------------------------------------------------
    def prefill(self, embeds: torch.Tensor, positions: torch.Tensor, text_logits: bool = False,
                shared: SharedPrefix | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The pruned prefill: (fp32 logits of the last position (V,), logits at every text
        position that survived (N_text, V) when asked).

        `shared` (prefix sharing, runtime/prefix.py; not with text logits): when this input
        starts with its stored prefix, only the rest runs through the layers up to the first
        drop step (all layers without one), on a copy of the prefix's cache, and joins the
        stored prefix there (`_join`); otherwise the whole input runs and its media prefix is
        stored for the next question. The record counts the tokens every layer would process
        alone."""
        lm, head = self.adapter.lm, self.adapter.lm_head
        depth = min(self.steps) if self.steps else None  # the layers up to it do not depend on the question
        share = shared is not None and not text_logits
        hit = shared.lookup(embeds, positions, depth) if share else None
        end = media_end(self.layout) if share and hit is None else 0
        start = 0 if hit is None else hit.length
        self._length = embeds.shape[1]
        self.cache = PrunableCache(config=lm.config) if hit is None else hit.cache
        if start:
            full = self.layout
            self.layout = full.subset(torch.arange(start, full.length, device=full.modality.device)).with_counts()
            self._prefix_counts = tuple(a - b for a, b in zip(full.counts(), self.layout.counts(), strict=True))
            embeds, positions = embeds[:, start:], positions[..., start:]
            if depth is not None:
                self._join = _Join(depth + 1, full, hit.state, start)
        elif end and depth is not None:
            self._join = _Join(depth + 1, self.layout, None, end)  # capture the prefix's state there
        self.shared_tokens = start
        self._input_length = embeds.shape[1]
        self.phase = "prefill"
        eager = "eager" in base_implementation(lm.config)
        # after a shared prefix the text model builds the causal mask itself (queries offset by the cache)
        mask = None if start else self.adapter.prefill_attention_mask(embeds.shape[1], embeds.dtype, embeds.device,
                                                                      eager)
        try:
            out = lm(inputs_embeds=embeds, position_ids=positions, use_cache=True, attention_mask=mask,
                     return_dict=True, **{cache_keyword(lm): self.cache})
            if end:  # before the drop steps' pruning: layers 0..depth still hold every position
                shared.store(embeds, positions, self.cache, end, depth, self._join.state if self._join else None)
            self._prune_caches()
        finally:
            self.phase = "decode"
            self._join = None
        hidden = out.last_hidden_state
        logits = head(hidden[:, -1]).float()[0]
        texts = None
        if text_logits:
            pos = torch.nonzero(self.layout.text_mask).flatten().to(hidden.device)
            texts = head(hidden[0, pos]).float()
        return logits, texts

    def decode_step(self, token: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """fp32 logits (V,) after feeding one token at its unpruned M-RoPE `position`."""
        if self.phase != "decode":
            raise SeatsError(f"{self.method.name}: decode_step before the prefill ({self.sample})")
        embed = self.adapter.lm.get_input_embeddings()
        emb = embed(token.view(1, 1).to(execution_device(embed, token.device)))  # under a device map: its device
        pos = position.reshape(1, 1, 1).expand(3, 1, 1).to(emb.device)
        out = self.adapter.lm(inputs_embeds=emb, position_ids=pos, attention_mask=self.adapter.decode_attention_mask(),
                              use_cache=True, return_dict=True, **{cache_keyword(self.adapter.lm): self.cache})
        return self.adapter.lm_head(out.last_hidden_state[:, -1]).float()[0]

    def _make_probe(self, layer_idx: int):
        def probe(module, query, key, scaling):
            if self.phase == "prefill":
                self._captured[layer_idx] = last_row_attention(query[:, :, -1:], key, scaling)[0]

        return probe

    def _make_hook(self, i: int):
        def hook(module, args, kwargs):
            if self.phase == "prefill":
                return self._pre_layer(i, args, kwargs)
            if self.phase == "decode":
                call = LayerCall.find(args, kwargs, self.cache, 1, 1, self.adapter.rope_seq_dim, i)
                if call.mask is not None and kwargs[call.mask] is not None:
                    # One new query attends to its layer's whole (pruned) cache; a mask built by
                    # the text model is sized to layer 0's cache and is wrong for other layers.
                    return args, {**kwargs, call.mask: None}
            return None

        return hook

    # -- the per-layer work -------------------------------------------------------------
    def _pre_layer(self, i: int, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        call = LayerCall.find(args, kwargs, self.cache, self._input_length, self.layout.length,
                              self.adapter.rope_seq_dim, i)
        hidden = call.hidden_states(args, kwargs)
        changed = False
        if self._join is not None and i == self._join.layer:
            hidden, changed = self._join_prefix(hidden, kwargs, call)
        if self.layer_inputs is not None and i > 0:
            added = self.layer_inputs.after_layer(i - 1, hidden, self.layout)
            if added is not None:
                hidden, changed = added, True
        step = self.steps.get(i - 1)
        if step is not None:
            hidden = self._drop(step, hidden, kwargs, call)
        self.record.layer_counts.append(tuple(a + b for a, b in zip(self.layout.counts(), self._prefix_counts,
                                                                    strict=True)))
        if self.idx is None and not changed:
            return None
        kwargs = dict(kwargs)
        if self.idx is not None:
            kwargs.update(self._slice_shared(kwargs, call))
        return call.with_hidden(args, kwargs, hidden)

    def _join_prefix(self, hidden: torch.Tensor, kwargs: dict, call: LayerCall) -> tuple[torch.Tensor, bool]:
        """At the layer after the first drop step of a shared prefill. Filling the prefix: keep
        its state (hidden states, rotary pair, position ids of its positions). Served from it:
        join the stored prefix to this question's suffix, so the drop and every later layer see
        the whole sequence, as alone (the rotary pair, mask and position ids are then the whole
        sequence's, `_whole`)."""
        join, d = self._join, self.adapter.rope_seq_dim
        pos = kwargs.get(call.positions) if call.positions else None
        if join.state is None:
            p = join.length
            join.state = PrefixState(hidden[:, :p].clone(), tuple(t.narrow(d, 0, p).clone() for t in kwargs[call.rope]),
                                     pos[..., :p].clone() if isinstance(pos, torch.Tensor) else None)
            return hidden, False
        st = join.state
        whole: dict[str, Any] = {call.rope: tuple(torch.cat((a.to(b.device), b), dim=d)
                                                  for a, b in zip(st.rope, kwargs[call.rope], strict=True))}
        # the mask the sample alone would get: built for the whole length, or none (sdpa: causal)
        eager = "eager" in base_implementation(self.adapter.lm.config)
        mask = _layer_mask(self.adapter.prefill_attention_mask(join.layout.length, hidden.dtype, hidden.device, eager))
        if call.mask is not None:
            whole[call.mask] = mask
        elif mask is not None:
            raise SeamError(f"decoder layer {self._join.layer} takes no attention mask for the suffix of a shared "
                            "prefix, so the whole sequence's causal mask cannot be handed on")
        if isinstance(pos, torch.Tensor) and st.positions is not None:
            whole[call.positions] = torch.cat((st.positions.to(pos.device), pos), dim=-1)
        self._whole = whole
        self.layout, self._prefix_counts = join.layout, (0, 0, 0)
        return torch.cat((st.hidden.to(hidden.device), hidden), dim=1), True

    def _seq_input(self, kwargs: dict, name: str | None) -> Any:
        """A per-position input of the layer call, for the whole sequence (after a join: the
        joined one)."""
        if name is None:
            return None
        return self._whole[name] if name in self._whole else kwargs.get(name)

    def _slice_shared(self, kwargs: dict, call: LayerCall) -> dict:
        """cos/sin, mask and position ids of the kept positions; computed once per step."""
        key = (len(self.record.step_layers), id(kwargs[call.rope]))
        if self._sliced_key != key:
            idx = self.idx
            d = self.adapter.rope_seq_dim
            out: dict[str, Any] = {call.rope: tuple(t.index_select(d, idx.to(t.device))
                                                    for t in self._seq_input(kwargs, call.rope))}
            if call.mask in self._whole and self._whole[call.mask] is None:
                out[call.mask] = None
            mask = self._seq_input(kwargs, call.mask)
            if isinstance(mask, torch.Tensor):
                at = idx.to(mask.device)
                out[call.mask] = mask.index_select(-2, at).index_select(-1, at)
            pos = self._seq_input(kwargs, call.positions)
            if isinstance(pos, torch.Tensor):
                out[call.positions] = pos.index_select(-1, idx.to(pos.device))
            self._sliced, self._sliced_key = out, key
        return self._sliced

    def _scores(self, step: DropStep, hidden: torch.Tensor, kwargs: dict, call: LayerCall) -> torch.Tensor | None:
        src = step.score_source
        if src is None:
            return None
        home = self.layout.modality.device  # selection runs where the layout lives
        if src == "attention":
            return self._captured.pop(step.after_layer).to(home)
        layer_idx = step.after_layer if src == "same_layer" else step.after_layer + 1
        layer = self.adapter.layers[layer_idx]
        attn = layer.self_attn
        x = hidden.to(execution_device(layer.input_layernorm, hidden.device))
        q, k = self.adapter.project_qk(attn, layer.input_layernorm(x))
        cos, sin = self._seq_input(kwargs, call.rope)
        if self.idx is not None:  # the positions of the tokens entering this drop
            cos, sin = self._slice_shared(kwargs, call)[call.rope]
        cos, sin = cos.to(k.device), sin.to(k.device)
        q, _ = self.adapter.apply_rotary(q, q, cos[:, -1:], sin[:, -1:])
        _, k = self.adapter.apply_rotary(k, k, cos, sin)
        return last_row_attention(q, k, attn.scaling, model_dtype=step.model_dtype)[0].to(home)

    def _prune_caches(self) -> None:
        """Each layer's cache from the positions it saw to the survivors (`self.idx`); the
        layers after the last drop saw only survivors. Kept index sets are ascending (sorted
        subsets of the LLM input), so a survivor's row in a layer's cache is `searchsorted`."""
        first = 0
        for last, seen in self._seen:
            rows = self.idx if seen is None else torch.searchsorted(seen, self.idx)
            moved: dict[torch.device, torch.Tensor] = {}  # one copy per device (each layer on its own)

            def on(dev: torch.device, rows: torch.Tensor = rows, moved: dict = moved) -> torch.Tensor:
                if dev not in moved:
                    moved[dev] = rows.to(dev)
                return moved[dev]

            self.cache.keep_positions(range(first, last + 1), self._length if seen is None else seen.shape[0], on)
            first = last + 1

    def _drop(self, step: DropStep, hidden: torch.Tensor, kwargs: dict, call: LayerCall) -> torch.Tensor:
        t0 = time.perf_counter()
        scores = self._scores(step, hidden, kwargs, call)
        # the method's counts and mask, checked, as indices: the rule the selection loop shares
        local, expected = selection.select_step(self.method, step, scores, self.layout, self.plan, self.sample)
        hidden = hidden.index_select(1, local.to(hidden.device))  # under a device map: the layer's device
        # the layers since the previous drop saw the current positions; their caches are pruned
        # once, after the prefill (_prune_caches)
        self._seen.append((step.after_layer, self.idx))
        base = torch.arange(self.layout.length, device=local.device) if self.idx is None else self.idx
        self.idx = base.index_select(0, local)
        self.layout = self.layout.subset(local).with_counts(expected)
        self.record.step_layers.append(step.after_layer)
        self.record.kept_positions.append(self.layout.position)
        self.record.steps.append(
            {"after_layer": step.after_layer, "name": step.name, "counts": list(self.layout.counts()),
             "seconds": time.perf_counter() - t0}
        )
        return hidden
