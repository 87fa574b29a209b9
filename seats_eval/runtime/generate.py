"""One sample through the pruning runtime, after the encoders (batch size 1).

The sample driver (driver/pipeline.py) brings a sample to the LLM's door (encoders or
cached features -> adapter.prepare: placeholders, M-RoPE, TokenLayout); `run_prepared` does
the rest in three steps:
1. `stage1`: the method's plan for the sample, then its pre-LLM selection (Stage I /
   pre-LLM baselines) applied to the LLM input;
2. `PruningRuntime.prefill`: the stock language model under the runtime's hooks (Stage II
   drops, Stage III), lm_head on the last position;
3. `decode`: one token at a time through `PruningRuntime.decode_step`, every layer
   attending to its own (pruned) KV cache, with explicit unpruned M-RoPE positions; greedy,
   or sampled as `decoding` (runtime/decoding.py) says.
Benchmarks enter at `run_prepared` with synthetic embeddings of real token counts.
The adapter's text model must carry the runtime's attention wrapper when a method reads
attention scores (SamplePipeline installs it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..adapters.base import OmniAdapter, PreparedSample
from ..errors import SeatsError
from ..layout import TEXT, TokenLayout
from ..methods.base import EncoderSignals, Method, Plan, PreLLMContext, PruneRecord
from .decoding import GREEDY, Decoding
from .prefix import SharedPrefix
from .prune import PruningRuntime


@dataclass
class GenerationResult:
    tokens: list[int]
    record: PruneRecord
    prefill_logits: torch.Tensor  # (V,) fp32 logits of the last prompt position
    text_logits: torch.Tensor | None = None  # (N_text, V) logits at all text positions
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class LLMInput:
    """The sequence that enters the LLM after Stage I."""

    embeds: torch.Tensor  # (1, S', D)
    positions: torch.Tensor  # (3, 1, S') the survivors' original M-RoPE positions
    layout: TokenLayout


@torch.no_grad()
def run_prepared(
    adapter: OmniAdapter,
    prep: PreparedSample,
    method: Method,
    signals: EncoderSignals | None = None,
    record: PruneRecord | None = None,
    *,
    max_new_tokens: int = 32,
    eos_token_ids: list[int] | tuple[int, ...] = (),
    sample: str = "",
    return_text_logits: bool = False,
    decoding: Decoding = GREEDY,
    shared: SharedPrefix | None = None,
) -> GenerationResult:
    """Everything after the encoders: Stage I, pruned prefill, decode. `shared`: the media
    prefix of an earlier question on the same video, when its LLM input starts the same
    (runtime/prefix.py; `extras["shared_tokens"]` says how many tokens it spared)."""
    record = record if record is not None else PruneRecord()
    plan = method.plan(prep.layout.counts())
    llm_input = stage1(prep, method, plan, signals, record, sample)
    runtime = PruningRuntime(adapter, method, plan, llm_input.layout, record, sample=sample,
                             layer_inputs=adapter.layer_inputs(prep))
    with runtime.installed():
        t = time.perf_counter()
        logits, text_logits = runtime.prefill(llm_input.embeds, llm_input.positions, return_text_logits, shared)
        sync(logits)
        record.timings["prefill_s"] = time.perf_counter() - t
        record.timings["inner_select_s"] = sum(s["seconds"] for s in record.steps)
        t = time.perf_counter()
        tokens = decode(runtime, logits, prep, max_new_tokens, eos_token_ids, decoding,
                        decoding.generator(sample, logits.device))
        record.timings["decode_s"] = time.perf_counter() - t
    return GenerationResult(tokens=tokens, record=record, prefill_logits=logits, text_logits=text_logits,
                            extras={"shared_tokens": runtime.shared_tokens})


def stage1(prep: PreparedSample, method: Method, plan: Plan, signals: EncoderSignals | None,
           record: PruneRecord, sample: str = "") -> LLMInput:
    """The method's pre-LLM selection applied to the prepared LLM input (merged embeddings
    written in, dropped positions cut out, survivors keeping their positions)."""
    layout = prep.layout
    record.input_counts = layout.counts()
    if layout.length == 0 or layout.modality[-1] != TEXT:
        raise SeatsError(f"{sample}: the prompt must end with a text token")
    t = time.perf_counter()
    embeds, positions = prep.inputs_embeds, prep.position_ids
    result = method.pre_llm(PreLLMContext(embeds[0], layout, signals, sample), plan)
    if result.embeds is not None:  # merge methods: every kept slot takes its (merged) vector from here
        if result.embeds.shape != embeds.shape[1:]:
            raise SeatsError(f"{method.name}: replacement embeds {tuple(result.embeds.shape)} != "
                             f"{tuple(embeds.shape[1:])} ({sample})")
        embeds = result.embeds.to(device=embeds.device, dtype=embeds.dtype)[None]
    if result.keep is not None:
        keep = result.keep
        if not bool(keep[layout.text_mask].all()):
            raise SeatsError(f"{method.name}: pre_llm dropped text tokens ({sample})")
        idx = torch.nonzero(keep).flatten()
        embeds = embeds.index_select(1, idx.to(embeds.device))
        positions = positions.index_select(-1, idx.to(positions.device))
        layout = layout.subset(idx)
    record.llm_input_counts = layout.counts()
    record.kept_positions.append(layout.position)
    sync(embeds)
    record.timings["pre_llm_s"] = time.perf_counter() - t
    return LLMInput(embeds, positions, layout)


def decode(runtime: PruningRuntime, logits: torch.Tensor, prep: PreparedSample, max_new_tokens: int,
           eos_token_ids: list[int] | tuple[int, ...], decoding: Decoding = GREEDY,
           generator: torch.Generator | None = None) -> list[int]:
    """Tokens after the prefill, each picked by `decoding`: positions stay unpruned (prefill
    length + step + rope delta), the runtime's caches stay pruned."""
    eos = {int(e) for e in eos_token_ids}
    unpruned_len = prep.input_ids.shape[1]
    delta = prep.rope_deltas.reshape(-1)[0]
    tokens: list[int] = []
    next_tok = decoding.pick(logits, generator)
    for step in range(max_new_tokens):
        tok = int(next_tok)
        tokens.append(tok)
        if tok in eos or step == max_new_tokens - 1:
            break
        next_tok = decoding.pick(runtime.decode_step(next_tok, unpruned_len + step + delta), generator)
    return tokens


def sync(t: torch.Tensor) -> None:
    """Wait for `t`'s device (timings only; a no-op on the CPU)."""
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
