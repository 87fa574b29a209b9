"""DivPrune (audio-intact) and DivPrune-om (both-selected): greedy max-min cosine diversity.

Pre-LLM, on the post-merger LLM-input embeddings (the paper: pre-projector features hurt on
om-LLMs). Video is selected per frame (one temporal grid of merged tokens, Sec. B.2);
DivPrune-om also selects audio per 2-s window. The modality total round(R_m * N_m) is split
exactly over frames / windows in proportion to their sizes, then each group keeps its
plain (unweighted) max-min subset: `select.weighted_maxmin(weights=None)`, batched over
groups. DivPrune with R_a < 1 drops audio by a seeded uniform draw (reference behaviour
when audio cannot stay intact). Nothing is merged; kept tokens stay in original order.
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig
from ..layout import AUDIO, TEXT
from ..select import weighted_maxmin
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, audio_rest, parse_budget, split_exact, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"seed", "group_batch"}


def maxmin_groups(embeds: torch.Tensor, mat: torch.Tensor, valid: torch.Tensor, total: int,
                  batch: int = 64) -> torch.Tensor:
    """(S,) keep mask: `total` tokens over the groups of `mat`, exact, max-min per group."""
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    if mat.numel() == 0 or total <= 0:
        return keep
    k = split_exact(valid.sum(1), total)
    for start in range(0, mat.shape[0], batch):  # bounded memory: batch x n x n distances
        m, v = mat[start:start + batch], valid[start:start + batch]
        picked = weighted_maxmin(embeds[m.clamp_min(0)], k[start:start + batch], None, v)
        keep[m[picked]] = True
    return keep


class DivPrune(Method):
    def __init__(self, name: str, budget: Budget, both: bool, seed: int = 0, group_batch: int = 64,
                 profile: str = DEFAULT_PROFILE) -> None:
        self.name = name
        super().__init__(profile)  # no rule differs (docs/profiles.md)
        self.name, self.budget, self.both, self.seed, self.batch = name, budget, both, int(seed), int(group_batch)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode,
                "video_groups": "frame", "audio_groups": "window" if self.both else "intact/random"}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        keep = lay.modality == TEXT
        fm, fv = lay.frame_matrix()
        keep |= maxmin_groups(ctx.embeds, fm, fv, target(self.budget.R_v, int(fv.sum())), self.batch)
        if self.both:
            am, av = lay.window_matrix(AUDIO)
            keep |= maxmin_groups(ctx.embeds, am, av, target(self.budget.R_a, int(av.sum())), self.batch)
        else:
            keep |= audio_rest(lay, self.budget, self.seed)
        return PreLLMResult(keep)


def _build(method_id: str, both: bool, cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options(method_id, options, OPTIONS)
    budget = parse_budget(opts, cfg, "both" if both else "audio_intact")
    return DivPrune(method_id, budget, both, seed=opts.integer("seed", 0),
                    group_batch=opts.integer("group_batch", 64, lo=1), profile=opts.profile())


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("divprune", False, cfg, options)


def build_om(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("divprune_om", True, cfg, options)
