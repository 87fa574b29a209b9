"""Greedy generation through the pruning runtime (batch size 1).

prefill: encoders -> TokenLayout -> Method.pre_llm -> stock language model with the
PruningRuntime's hooks -> lm_head on the last position. decode: one token at a time through
the stock language model, each layer attending to its own (pruned) KV cache, with explicit
unpruned M-RoPE positions (prefill length + step + rope delta) and no 2-D mask: the mask
`generate` would build is sized to the unpruned length, wrong for a pruned cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import SeatsError
from ..layout import TEXT
from ..methods.base import Method, PreLLMContext, PruneRecord
from .attention import use_wrapped_attention
from .devices import execution_device
from .features import EncoderFeatures
from .prune import PruningRuntime
from .qwen2_5_omni import PreparedSample, Qwen25OmniAdapter
from .signals import encode_with_signals


@dataclass
class GenerationResult:
    tokens: list[int]
    record: PruneRecord
    prefill_logits: torch.Tensor  # (V,) fp32 logits of the last prompt position
    text_logits: torch.Tensor | None = None  # (N_text, V) logits at all text positions
    extras: dict[str, Any] = field(default_factory=dict)


def make_adapter(thinker: Any) -> Qwen25OmniAdapter:
    """The backbone adapter for a thinker (Qwen2.5-Omni or Qwen3-Omni-MoE)."""
    if "qwen3_omni" in str(getattr(thinker.config, "model_type", "")):
        from .qwen3_omni import Qwen3OmniAdapter

        adapter: Qwen25OmniAdapter = Qwen3OmniAdapter(thinker)
    else:
        adapter = Qwen25OmniAdapter(thinker)
    use_wrapped_attention(adapter.lm.config)  # score capture needs the wrapper; output unchanged
    return adapter


@torch.no_grad()
def generate(
    thinker: Any,
    inputs: dict[str, Any],
    method: Method,
    *,
    max_new_tokens: int = 32,
    eos_token_ids: list[int] | tuple[int, ...] = (),
    sample: str = "",
    return_text_logits: bool = False,
    features: EncoderFeatures | None = None,
    capture_signals: bool = False,
) -> GenerationResult:
    """Run one sample end to end; see the module docstring for the steps.

    `features`: encoder outputs computed earlier for the same media (the feature cache);
    the encoders then do not run, unless the method needs Stage I signals they lack.
    `capture_signals`: record Stage I signals even when the method does not use them (so a
    cached entry serves every method). The features used are in `result.extras["features"]`.
    """
    adapter = make_adapter(thinker)
    record = PruneRecord()
    t0 = time.perf_counter()
    need = method.needs_encoder_signals
    if features is None or (need and not features.signals_captured):
        if features is not None and inputs.get("pixel_values_videos") is None and inputs.get("input_features") is None:
            raise SeatsError(f"{sample}: cached encoder features lack the Stage I signals {method.name} needs, "
                             "and the inputs carry no media to recompute them")
        features = encode_with_signals(adapter, inputs) if need or capture_signals else adapter.encode(inputs)
    prep: PreparedSample = adapter.prepare(inputs, sample=sample, features=features)
    signals = features.signals(prep.layout) if need else None
    _sync(prep.inputs_embeds)
    record.timings["encode_s"] = time.perf_counter() - t0
    result = run_prepared(adapter, prep, method, signals, record, max_new_tokens=max_new_tokens,
                          eos_token_ids=eos_token_ids, sample=sample, return_text_logits=return_text_logits)
    result.extras["features"] = features
    return result


@torch.no_grad()
def run_prepared(
    adapter: Qwen25OmniAdapter,
    prep: PreparedSample,
    method: Method,
    signals: Any = None,
    record: PruneRecord | None = None,
    *,
    max_new_tokens: int = 32,
    eos_token_ids: list[int] | tuple[int, ...] = (),
    sample: str = "",
    return_text_logits: bool = False,
) -> GenerationResult:
    """Everything after the encoders: selection, pruned prefill, greedy decode. Benchmarks
    enter here with synthetic embeddings of real token counts."""
    record = record if record is not None else PruneRecord()
    layout = prep.layout
    record.input_counts = layout.counts()
    if layout.length == 0 or layout.modality[-1] != TEXT:
        raise SeatsError(f"{sample}: the prompt must end with a text token")

    # Stage I / pre-LLM selection
    t1 = time.perf_counter()
    embeds, positions = prep.inputs_embeds, prep.position_ids
    keep = method.pre_llm(PreLLMContext(embeds[0], layout, signals, sample))
    if isinstance(keep, tuple):
        # Merge methods (VisionZip, FastVID, OmniZip) return (keep_mask, replacement_embeds):
        # replacement (S, D) holds the merged vectors written into the kept anchors' slots;
        # every kept position takes its embedding from it (unmerged slots are unchanged copies).
        keep, replacement = keep
        if replacement.shape != embeds.shape[1:]:
            raise SeatsError(f"{method.name}: replacement embeds {tuple(replacement.shape)} != "
                             f"{tuple(embeds.shape[1:])} ({sample})")
        embeds = replacement.to(device=embeds.device, dtype=embeds.dtype)[None]
    if keep is not None:
        if not bool(keep[layout.text_mask].all()):
            raise SeatsError(f"{method.name}: pre_llm dropped text tokens ({sample})")
        idx = torch.nonzero(keep).flatten()
        embeds = embeds.index_select(1, idx)
        positions = positions.index_select(-1, idx)
        layout = layout.subset(idx)
    record.llm_input_counts = layout.counts()
    record.kept_positions.append(layout.position)
    _sync(embeds)
    record.timings["pre_llm_s"] = time.perf_counter() - t1

    # Prefill through the pruning runtime
    from transformers import DynamicCache

    lm = adapter.lm
    cache = DynamicCache(config=lm.config)
    runtime = PruningRuntime(adapter, method, layout, record, sample=sample,
                             deepstack=prep.encoder_outputs.get("deepstack"), full_modality=prep.layout.modality)
    t2 = time.perf_counter()
    with runtime.installed():
        runtime.phase = "prefill"
        out = lm(
            inputs_embeds=embeds,
            position_ids=positions,
            attention_mask=adapter.prefill_attention_mask(embeds.shape[1], embeds.dtype, embeds.device),
            past_key_values=cache,
            use_cache=True,
            return_dict=True,
        )
        runtime.phase = "decode"
        hidden = out.last_hidden_state
        logits = adapter.lm_head(hidden[:, -1]).float()[0]
        text_logits = None
        if return_text_logits:
            text_pos = torch.nonzero(runtime.layout.text_mask).flatten().to(hidden.device)
            text_logits = adapter.lm_head(hidden[0, text_pos]).float()
        _sync(logits)
        record.timings["prefill_s"] = time.perf_counter() - t2
        record.timings["inner_select_s"] = sum(s["seconds"] for s in record.steps)

        # Greedy decode: every layer attends to its own cache; positions stay unpruned.
        t3 = time.perf_counter()
        eos = set(int(e) for e in eos_token_ids)
        unpruned_len = prep.input_ids.shape[1]
        delta = prep.rope_deltas.reshape(-1)[0]
        tokens: list[int] = []
        embed = lm.get_input_embeddings()
        embed_dev = execution_device(embed, embeds.device)  # under a device map: the first device
        next_tok = logits.argmax()
        for step in range(max_new_tokens):
            tok = int(next_tok)
            tokens.append(tok)
            if tok in eos or step == max_new_tokens - 1:
                break
            emb = embed(next_tok.view(1, 1).to(embed_dev))
            pos = (unpruned_len + step + delta).view(1, 1, 1).expand(3, 1, 1).to(emb.device)
            o = lm(
                inputs_embeds=emb,
                position_ids=pos,
                attention_mask=None if adapter.backbone == "qwen3-omni" else {"full_attention": None},
                past_key_values=cache,
                use_cache=True,
                return_dict=True,
            )
            next_tok = adapter.lm_head(o.last_hidden_state[:, -1]).float()[0].argmax()
        record.timings["decode_s"] = time.perf_counter() - t3
    return GenerationResult(tokens=tokens, record=record, prefill_logits=logits, text_logits=text_logits)


def _sync(t: torch.Tensor) -> None:
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
