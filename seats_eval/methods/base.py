"""The Method seam: what a token-selection method may decide, and nothing model-specific.

A method sees tensors and a TokenLayout, returns keep-masks, and never touches a
transformers module: the runtime owns hooks, positions, masks and the KV cache.
- `pre_llm`: a keep-mask over the LLM input (Stage I / pre-LLM baselines), or None; merge
  methods return `(keep_mask, replacement_embeds)` with merged vectors in kept slots.
- `drop_steps`: the 0-based decoder layers AFTER which tokens are dropped; each step says
  whether it needs last-text-token scores and from where.
- `in_llm`: the keep-mask over the current tokens at one drop step.
- `kept_counts` (optional): how many tokens of each modality that mask keeps, known on the
  host; with it the runtime drops without reading the mask (no sync in the decoder loop),
  and `layout.count` inside `in_llm` is free. Verified against the mask on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..layout import TokenLayout

SCORE_SOURCES = ("official", "next_layer", "attention")


@dataclass(frozen=True)
class DropStep:
    """Drop tokens between layer `after_layer` and `after_layer + 1` (0-based).

    score_source: None (no scores needed, e.g. late removal), "attention" (the real
    last-row attention of layer `after_layer`), "official" (layer `after_layer`'s norm and
    q/k applied to its own output, as the SEATS code does) or "next_layer" (layer
    `after_layer + 1`'s weights on that output: the attention the next layer would compute).
    """

    after_layer: int
    score_source: str | None = None
    name: str = ""


@dataclass
class EncoderSignals:
    """Stage I signals at merged-token level, aligned with the LLM input sequence.

    video_attn / audio_attn: (S,) attention each token received in the last encoder layer
    (0 at positions of other modalities); None when not captured.
    """

    video_attn: torch.Tensor | None = None
    audio_attn: torch.Tensor | None = None


@dataclass
class PreLLMContext:
    embeds: torch.Tensor  # (S, D) LLM-input embeddings (post-merger / post-projector)
    layout: TokenLayout
    signals: EncoderSignals | None = None
    sample: str = ""


class Method:
    """Base class: keeps every token. Subclasses override what they need."""

    name = "full"
    needs_encoder_signals = False

    def pre_llm(self, ctx: PreLLMContext) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None:
        return None

    def drop_steps(self, num_layers: int) -> list[DropStep]:
        return []

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} declares no in-LLM drop steps")

    def kept_counts(self, step: DropStep, counts: tuple[int, int, int]) -> tuple[int, int, int] | None:
        """(text, video, audio) that `in_llm`'s mask for `step` will keep, given the counts
        entering it; None when unknown. Known counts let the runtime drop tokens without
        reading the mask on the host (no device sync inside the decoder loop)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"method": self.name}


@dataclass
class PruneRecord:
    """What happened to one sample: token counts per layer and per modality.

    `layer_counts[l]` = (text, video, audio) tokens processed by decoder layer l.
    `kept_positions` (not logged) holds, for the LLM input and after each drop step, the
    original sequence positions still alive: the oracle test replays them as masks.
    """

    input_counts: tuple[int, int, int] = (0, 0, 0)
    llm_input_counts: tuple[int, int, int] = (0, 0, 0)
    layer_counts: list[tuple[int, int, int]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    kept_positions: list[torch.Tensor] = field(default_factory=list)
    step_layers: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_log(self) -> dict[str, Any]:
        return {
            "input_counts": list(self.input_counts),
            "llm_input_counts": list(self.llm_input_counts),
            "layer_counts": [list(c) for c in self.layer_counts],
            "steps": self.steps,
            "timings": self.timings,
        }
