"""Random: uniform random selection per modality at (R_v, R_a) before the LLM.

Global per modality (no windows), as the reference baseline; unlike the reference the draw
is seeded (`seed`, default 0), so a run is reproducible. Default mode: both-selected.
Counts: `profile=official` (default) max(int(R_m * N_m), 1) as the authors' code (R_v=0.06,
N=9216: 552); `paper` round(R_m * N_m) (553). On Qwen3-Omni `official` draws at the pairs
the authors' Qwen3 script passes, the Qwen2.5 ones (select/official.py `script_pair`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..backbones.budgets import Budget
from ..backbones.config import BackboneConfig, normalise_name
from ..layout import AUDIO, TEXT, VIDEO
from ..select.official import floor_count, script_pair
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, PROFILES, parse_budget, random_keep, target
from .options import Options

OPTIONS = BUDGET_OPTIONS | {"seed"}


class RandomSelect(Method):
    name = "random"

    def __init__(self, budget: Budget, seed: int = 0, profile: str = "paper") -> None:
        self.budget = budget
        self.seed = int(seed)
        self.profile = profile

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "seed": self.seed,
                "profile": self.profile}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        keep = lay.modality == TEXT
        count = floor_count if self.profile == "official" else target
        for mod, ratio in ((VIDEO, self.budget.R_v), (AUDIO, self.budget.R_a)):
            if ratio >= 1.0:
                keep |= lay.modality == mod
                continue
            keep |= random_keep(lay, mod, count(ratio, lay.count(mod)), self.seed)
        return PreLLMResult(keep)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("random", options, OPTIONS)
    budget = parse_budget(opts, cfg, "both")
    profile = opts.choice("profile", "official", PROFILES)
    pair = script_pair(normalise_name(cfg.name), "random", budget.R) if budget.mode == "both" else None
    if profile == "official" and pair is not None and "R_v" not in opts and "R_a" not in opts:
        budget = replace(budget, R_v=pair[0], R_a=pair[1])
    return RandomSelect(budget, seed=opts.integer("seed", 0), profile=profile)
