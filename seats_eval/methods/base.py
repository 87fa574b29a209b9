"""The Method contract: what a token-selection method may decide, and nothing model-specific.

A method sees tensors and a TokenLayout, returns keep-masks, and never touches a
transformers module: the runtime owns hooks, positions, masks and the KV cache. For one
sample the runtime calls, in this order:

1. `plan(counts)` -> Plan: everything the method decides from the LLM input's
   (text, video, audio) counts before anything is dropped (SEATS: the tokens every layer
   keeps). The runtime holds the plan for that sample and passes it back below; methods
   keep no per-sample state of their own. `flops.planned_lengths` reads the same plan.
2. `pre_llm(ctx, plan)` -> PreLLMResult: a keep-mask over the LLM input (Stage I,
   pre-LLM baselines; None keeps all) and, for merge methods, replacement embeddings whose
   kept slots hold the merged vectors.
3. `drop_steps(num_layers)`: the 0-based decoder layers AFTER which tokens drop; each step
   says whether it needs last-text-token scores and from where.
4. at each step, `kept_counts(step, counts, plan)` (optional: how many tokens of each
   modality the mask will keep, known on the host, so the runtime drops without reading the
   mask: no sync in the decoder loop; verified against the mask on CPU), then
   `in_llm(step, scores, layout, plan)`: the keep-mask over the current tokens. When the
   counts depend on the scores (official SEATS Stage II) `kept_counts` returns None and the
   runtime reads the mask's per-modality counts: one device read, that step's only one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..layout import TokenLayout
from .options import BUDGET_RULES, DEFAULT_PROFILE

SCORE_SOURCES = ("same_layer", "next_layer", "attention")
# `official` was the first name of `same_layer` (the authors' code scores this way); still read
SCORE_SOURCE_ALIASES = {"official": "same_layer"}
Counts = tuple[int, int, int]  # (text, video, audio)


@dataclass(frozen=True)
class DropStep:
    """Drop tokens between layer `after_layer` and `after_layer + 1` (0-based).

    score_source: None (no scores needed, e.g. late removal), "attention" (the real
    last-row attention of layer `after_layer`), "same_layer" (layer `after_layer`'s norm and
    q/k applied to its own output, as the SEATS code does) or "next_layer" (layer
    `after_layer + 1`'s weights on that output: the attention the next layer would compute).
    model_dtype: the re-projected scores ("same_layer", "next_layer") in the model's dtype as
    the authors compute them (profile=official), instead of fp32.
    """

    after_layer: int
    score_source: str | None = None
    name: str = ""
    model_dtype: bool = False

    def __post_init__(self) -> None:
        # the runtime picks the scoring layer by this name: an unknown one must not fall
        # through to another source silently (a method's bug, so a loud error)
        source = SCORE_SOURCE_ALIASES.get(self.score_source, self.score_source)  # type: ignore[arg-type]
        if source is not None and source not in SCORE_SOURCES:
            raise ValueError(f"drop step {self.name or self.after_layer}: score_source {self.score_source!r}; "
                             f"allowed: None, {', '.join(SCORE_SOURCES)}")
        object.__setattr__(self, "score_source", source)


@dataclass
class EncoderSignals:
    """Stage I signals at merged-token level, aligned with the LLM input sequence.

    video_attn / audio_attn: (S,) attention each token received in the last encoder layer
    (0 at positions of other modalities); None when not captured.
    """

    video_attn: torch.Tensor | None = None
    audio_attn: torch.Tensor | None = None


@dataclass(frozen=True)
class Plan:
    """One sample's decisions made before the LLM runs (see the module docstring).

    `layers`: the (text, video, audio) tokens each decoder layer processes, when the method
    knows them in advance (full tokens, SEATS); None otherwise (counts then come from the run).
    """

    input_counts: Counts
    layers: tuple[Counts, ...] | None = None

    def layer(self, i: int) -> Counts:
        """Tokens decoder layer `i` (0-based) processes; only for planned methods."""
        if self.layers is None:
            raise ValueError("this method has no per-layer plan")
        return self.layers[i]


@dataclass
class PreLLMResult:
    """What `pre_llm` decided: `keep` (S,) bool (None keeps every token) and, for merge
    methods, `embeds` (S, D): the LLM-input embeddings to use (merged vectors in the kept
    anchors' slots; None: unchanged)."""

    keep: torch.Tensor | None = None
    embeds: torch.Tensor | None = None


@dataclass
class PreLLMContext:
    embeds: torch.Tensor  # (S, D) LLM-input embeddings (post-merger / post-projector)
    layout: TokenLayout
    signals: EncoderSignals | None = None
    sample: str = ""


class Method:
    """Base class: keeps every token. Subclasses override what they need.

    Two settings belong to the contract because the sample driver reads them before any
    selection (processor inputs, encoder statistics, the feature-cache key):
    - `profile`: "official" | "paper" (docs/profiles.md), chosen once when the method is built
      (`Method.__init__` checks it; a method whose rules do not differ only records it);
    - `signal_audio_window`: frames per audio-statistics window, None for the encoder's own
      attention chunks.
    """

    name = "full"
    needs_encoder_signals = False
    profile: str = DEFAULT_PROFILE
    signal_audio_window: int | None = None

    def __init__(self, profile: str = DEFAULT_PROFILE) -> None:
        self.profile = BUDGET_RULES["profile"].check(self.name, "profile", profile)

    def plan(self, counts: Counts) -> Plan:
        return Plan(tuple(int(c) for c in counts))  # type: ignore[arg-type]

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        return PreLLMResult()

    def drop_steps(self, num_layers: int) -> list[DropStep]:
        return []

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout, plan: Plan) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} declares no in-LLM drop steps")

    def kept_counts(self, step: DropStep, counts: Counts, plan: Plan) -> Counts | None:
        """(text, video, audio) that `in_llm`'s mask for `step` will keep, given the counts
        entering it; None when they depend on the scores (the runtime then reads the mask's
        counts: one sync)."""
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
