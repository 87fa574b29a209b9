"""FastV (audio-intact) and FastV-om (both-selected): one-shot pruning inside the LLM.

After decoder layer K-1 (0-based; i.e. before layer K, K = 2) the last text token's
attention over all tokens ranks the media tokens; the top-k per modality survive for layers
K..L-1 and their KV caches. FastV ranks video only (audio intact; with R_a < 1 audio is
dropped by a seeded uniform draw, as the reference code does when audio cannot stay
intact); FastV-om ranks video and audio separately (global top-k per modality).

Scores: `score_source=attention` is layer K-1's own attention map (original FastV);
`same_layer` recomputes it with layer K-1's weights on its output (the SEATS code's quirk;
the default under profile=official); `next_layer` uses layer K's weights.

Ratios: R is a retention averaged over all L layers, and layers 0..K-1 see every token, so
by default (`ratio=layer_mean`, the SEATS code) the ratio applied at layer K is
r_m = (R_m * L - K) / (L - K); `ratio=direct` applies R_m itself. Counts are
round(r_m * N_m), at least 1. An R whose r_v is <= 0 fails at load (FastV-om at R=10 on
Qwen2.5-Omni-7B, as in Table 3).

`profile=official` (default): scores as the authors compute them (`score_source=same_layer`
in the model dtype), counts max(1, round(r * N)) on the raw product, and the audio-intact
FastV maps Table 7's both-selected pair through the layer-mean rule and then re-derives
(r_v, r_a) per sample with `audio_intact_reallocate` (R=0.35, N_v=4608, N_a=800: 832 video
tokens). `paper`: the rules above with `score_source=attention` in fp32.
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig
from ..errors import ConfigError
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout
from ..select import global_topk
from .base import SCORE_SOURCE_ALIASES, SCORE_SOURCES, Counts, DropStep, Method, Plan
from .common import BUDGET_OPTIONS, audio_intact_reallocate, intact_start, parse_budget, random_keep, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"K", "score_source", "ratio", "seed"}
RATIOS = ("layer_mean", "direct")


def raw_round_count(ratio: float, n: int) -> int:
    """profile=official: max(1, round(ratio * n)) on the raw product, all n from ratio 1."""
    return n if ratio >= 1.0 or n == 0 else min(n, max(1, round(ratio * n)))


def layer_ratio(R_m: float, L: int, K: int, rule: str) -> float:
    """The keep ratio applied after layer K-1 so that the mean over L layers is R_m."""
    if R_m >= 1.0 or rule == "direct":
        return min(1.0, R_m)
    return (R_m * L - K) / (L - K)


class FastV(Method):
    def __init__(self, name: str, budget: Budget, num_layers: int, K: int = 2, score_source: str | None = None,
                 ratio: str = "layer_mean", both: bool = False, seed: int = 0, profile: str = DEFAULT_PROFILE,
                 start: tuple[float, float] | None = None) -> None:
        if not 1 <= K <= num_layers - 1:
            raise ConfigError(f"{name}: K must be in [1, {num_layers - 1}] for {num_layers} layers, got {K}")
        self.name = name
        super().__init__(profile)
        official = self.profile == "official"
        # the profile's rules, chosen once: scores (source and precision) and the count rule
        self.score_source = score_source or ("same_layer" if official else "attention")
        self.model_dtype = official
        self._count = raw_round_count if official else target
        self.budget, self.L, self.K = budget, int(num_layers), int(K)
        self.ratio, self.both, self.seed = ratio, both, int(seed)
        self.r_v = layer_ratio(budget.R_v, self.L, self.K, ratio)
        self.r_a = layer_ratio(budget.R_a, self.L, self.K, ratio)
        # official audio-intact: the both-selected pair, mapped, re-derived per sample (`ratios`)
        self.start = None
        if official and not both and start is not None:
            self.start = (layer_ratio(start[0], self.L, self.K, ratio), layer_ratio(start[1], self.L, self.K, ratio))
        for m, r in (("video", self.r_v), ("audio", self.r_a)):
            if r <= 0:
                raise ConfigError(
                    f"{name}: R={budget.R} (R_{m[0]}={getattr(budget, 'R_' + m[0]):.4f}) cannot be reached: the "
                    f"first K={K} of L={self.L} layers see every token, so the ratio after layer K would be "
                    f"{r:.4f} <= 0; use a larger R, a smaller K or ratio=direct")

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "K": self.K,
                "r_v": self.r_v, "r_a": self.r_a, "ratio": self.ratio, "score_source": self.score_source,
                "profile": self.profile}

    def ratios(self, n_video: int, n_audio: int) -> tuple[float, float]:
        """(r_v, r_a) applied after layer K-1 to a sample with these counts."""
        if self.start is not None:
            return audio_intact_reallocate(*self.start, n_video, n_audio)
        return self.r_v, self.r_a

    def targets(self, n_video: int, n_audio: int) -> tuple[int, int]:
        """(video, audio) tokens alive after the drop."""
        r_v, r_a = self.ratios(n_video, n_audio)
        return self._count(r_v, n_video), self._count(r_a, n_audio)

    def drop_steps(self, num_layers: int) -> list[DropStep]:
        if num_layers != self.L:
            raise ConfigError(f"{self.name}: built for {self.L} layers but the model has {num_layers}; "
                              "pass backbone_config matching the checkpoint")
        r_v, r_a = self.start if self.start is not None else (self.r_v, self.r_a)
        if r_v >= 1.0 and r_a >= 1.0:
            return []
        return [DropStep(self.K - 1, self.score_source, "fastv", model_dtype=self.model_dtype)]

    def kept_counts(self, step: DropStep, counts: Counts, plan: Plan) -> Counts | None:
        # top-k and the uniform draw keep exactly their targets; r >= 1 keeps all (target = n)
        return (counts[TEXT], *self.targets(counts[VIDEO], counts[AUDIO]))

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout, plan: Plan) -> torch.Tensor:
        assert scores is not None
        k_v, k_a = self.targets(layout.count(VIDEO), layout.count(AUDIO))
        v, a = layout.modality == VIDEO, layout.modality == AUDIO
        keep = (layout.modality == TEXT) | global_topk(scores, v, k_v)
        if self.both:
            return keep | global_topk(scores, a, k_a)
        if k_a >= layout.count(AUDIO):
            return keep | a
        return keep | random_keep(layout, AUDIO, k_a, self.seed)


def _build(method_id: str, both: bool, cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options(method_id, options, OPTIONS)
    budget = parse_budget(opts, cfg, "both" if both else "audio_intact")
    return FastV(method_id, budget, cfg.num_layers, K=opts.integer("K", 2, lo=1),
                 score_source=opts.choice("score_source", None, SCORE_SOURCES, aliases=SCORE_SOURCE_ALIASES),
                 ratio=opts.choice("ratio", "layer_mean", RATIOS), both=both, seed=opts.integer("seed", 0),
                 profile=opts.profile(), start=None if both else intact_start(opts, cfg, budget))


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("fastv", False, cfg, options)


def build_om(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("fastv_om", True, cfg, options)
