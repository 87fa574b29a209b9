"""SEATS: stage-adaptive token selection (the paper's Sec. 4).

Stage I (pre-LLM): winDivPrune, per 2-s window and per modality, keeps lam*R_m of the
tokens by attention-weighted max-min diversity on the LLM-input embeddings.
Stage II (in the LLM): after the three middle-block boundaries, keeps the schedule's counts,
allocated top-down (windows, then modalities) by last-text-token attention and picked by
top-k inside each window and modality.
Stage III: after layer L_l - 1 every non-text token is dropped.

Counts are exact per modality at every step (budgets.layer_counts), defaults follow the
paper; switches name the ablations of Table 5 and the official code's score variant.
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget, build_schedule, layer_counts, resolve_budget
from ..errors import ConfigError
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout
from ..select import (
    allocate_budgets,
    apportion,
    global_topk,
    topk_per_window,
    weighted_maxmin,
    window_relevance,
)
from . import reject_unknown
from .base import SCORE_SOURCES, DropStep, Method, PreLLMContext

OPTIONS = {
    "R", "mode", "R_v", "R_a", "lam", "tau", "boundaries", "score_source", "decay",
    "late_removal", "attn_weighted", "inter_window", "intra_window", "coupled", "selection",
    "window_batch",
}
SELECTIONS = ("window", "global")


def _boundaries(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p for p in value.replace(",", "-").replace(" ", "-").split("-") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError as exc:
            raise ConfigError(f"boundaries must look like 16-19-21-24, got {value!r}") from exc
    return tuple(int(v) for v in value)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def windivprune(
    embeds: torch.Tensor,
    layout: TokenLayout,
    modality: int,
    total: int,
    weights: torch.Tensor | None,
    window_batch: int = 64,
) -> torch.Tensor:
    """Keep-mask (S,) of `total` tokens of `modality`: per window, attention-weighted
    max-min diversity; the total is split over windows in proportion to their sizes
    (exact sum, >= 1 per non-empty window). Windows are processed in batches."""
    keep = torch.zeros(layout.length, dtype=torch.bool, device=embeds.device)
    mat, valid = layout.window_matrix(modality)
    if mat.numel() == 0 or total <= 0:
        return keep
    sizes = valid.sum(dim=1)
    k = apportion(sizes.double(), int(total), sizes, (sizes > 0).long())
    for start in range(0, mat.shape[0], window_batch):  # bounded memory: W x n x d features
        m, v, kk = mat[start:start + window_batch], valid[start:start + window_batch], k[start:start + window_batch]
        idx = m.clamp_min(0)
        feats = embeds[idx]
        w = weights[idx].float() * v if weights is not None else None
        picked = weighted_maxmin(feats, kk, w, v)
        keep[m[picked]] = True
    return keep


class Seats(Method):
    name = "seats"

    def __init__(self, budget: Budget, cfg: dict[str, Any], *, lam: float | None = None, tau: float | None = None,
                 boundaries: tuple[int, ...] | None = None, score_source: str = "official",
                 decay: str = "exp", late_removal: bool = True, attn_weighted: bool = True,
                 inter_window: bool = True, intra_window: bool = True, coupled: bool = True,
                 selection: str = "window", window_batch: int = 64) -> None:
        if score_source not in SCORE_SOURCES:
            raise ConfigError(f"score_source {score_source!r}; allowed: {', '.join(SCORE_SOURCES)}")
        if selection not in SELECTIONS:
            raise ConfigError(f"selection {selection!r}; allowed: {', '.join(SELECTIONS)}")
        self.budget = budget
        self.schedule = build_schedule(budget, cfg, lam=lam, decay=decay, boundaries=boundaries)
        self.tau = float(tau if tau is not None else cfg.get("tau", 0.1))
        if not self.tau > 0:
            raise ConfigError(f"tau must be > 0, got {self.tau}")
        self.score_source = score_source
        self.late_removal = late_removal
        self.attn_weighted = attn_weighted
        self.alloc = {"inter_window": inter_window, "intra_window": intra_window, "coupled": coupled}
        self.selection = selection
        self.window_batch = int(window_batch)
        self.needs_encoder_signals = attn_weighted and not self.schedule.is_identity
        self._counts: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        s = self.schedule
        return {"method": self.name, "R": self.budget.R, "R_v": self.budget.R_v, "R_a": self.budget.R_a,
                "mode": self.budget.mode, "lam": s.lam, "tau": self.tau, "boundaries": list(s.boundaries),
                "decay": s.decay, "score_source": self.score_source, "late_removal": self.late_removal,
                "attn_weighted": self.attn_weighted, "selection": self.selection, **self.alloc}

    # Stage I ------------------------------------------------------------------------------
    def pre_llm(self, ctx: PreLLMContext) -> torch.Tensor | None:
        lay = ctx.layout
        self._counts = layer_counts(self.schedule, lay.count(VIDEO), lay.count(AUDIO))
        if self.schedule.is_identity:
            return None
        keep = lay.modality == TEXT
        for mod, name, sig in ((VIDEO, "video", "video_attn"), (AUDIO, "audio", "audio_attn")):
            w = getattr(ctx.signals, sig, None) if (self.attn_weighted and ctx.signals) else None
            keep |= windivprune(ctx.embeds, lay, mod, self._counts["stage1"][name], w, self.window_batch)
        return keep

    # Stage II / III ------------------------------------------------------------------------
    def drop_steps(self, num_layers: int) -> list[DropStep]:
        s = self.schedule
        if s.num_layers != num_layers:
            raise ConfigError(f"schedule is for {s.num_layers} layers but the model has {num_layers}; "
                              "pass backbone_config matching the checkpoint")
        steps = [DropStep(a, self.score_source, f"stage2_{i + 1}") for i, a in enumerate(s.drop_after)]
        if self.late_removal and s.late_after is not None:
            steps.append(DropStep(s.late_after, None, "late"))
        return steps

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout) -> torch.Tensor:
        text = layout.modality == TEXT
        if step.name == "late":
            return text
        assert self._counts is not None and scores is not None
        k_v = self._counts["video"][step.after_layer + 1]
        k_a = self._counts["audio"][step.after_layer + 1]
        v, a = layout.modality == VIDEO, layout.modality == AUDIO
        if self.selection == "global" or layout.num_windows <= 1:
            return text | global_topk(scores, v, k_v) | global_topk(scores, a, k_a)
        W = layout.num_windows
        S_tv = window_relevance(scores, layout.window, W, v, self.tau)
        S_ta = window_relevance(scores, layout.window, W, a, self.tau)
        B_v, B_a = allocate_budgets(S_tv, S_ta, layout.window_counts(VIDEO), layout.window_counts(AUDIO),
                                    k_v, k_a, **self.alloc)
        return text | topk_per_window(scores, layout.window, B_v, v) | topk_per_window(scores, layout.window, B_a, a)


def build(cfg: dict[str, Any], options: dict[str, Any]) -> Method:
    reject_unknown("seats", options, OPTIONS)
    n_v, n_a = int(cfg["video_tokens_per_window"]), int(cfg["audio_tokens_per_window"])
    if "R" not in options:
        raise ConfigError("seats: R is required (overall token retention ratio in (0, 1])")
    budget = resolve_budget(float(options["R"]), str(options.get("mode", "both")), n_v, n_a,
                            R_v=options.get("R_v"), R_a=options.get("R_a"), backbone=cfg)
    kwargs: dict[str, Any] = {}
    for key in ("lam", "tau"):
        if key in options:
            kwargs[key] = float(options[key])
    for key in ("late_removal", "attn_weighted", "inter_window", "intra_window", "coupled"):
        if key in options:
            kwargs[key] = _bool(key, options[key])
    for key in ("score_source", "decay", "selection"):
        if key in options:
            kwargs[key] = str(options[key])
    if "window_batch" in options:
        kwargs["window_batch"] = int(options["window_batch"])
    return Seats(budget, cfg, boundaries=_boundaries(options.get("boundaries")), **kwargs)
