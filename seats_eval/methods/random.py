"""Random: uniform random selection per modality at (R_v, R_a) before the LLM.

Global per modality (no windows), as the reference baseline; unlike the reference the draw
is seeded (`seed`, default 0), so a run is reproducible. Default mode: both-selected.
"""

from __future__ import annotations

from typing import Any

from ..budgets import Budget
from ..config import BackboneConfig
from ..layout import AUDIO, TEXT, VIDEO
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, parse_budget, random_keep, target
from .options import Options

OPTIONS = BUDGET_OPTIONS | {"seed"}


class RandomSelect(Method):
    name = "random"

    def __init__(self, budget: Budget, seed: int = 0) -> None:
        self.budget = budget
        self.seed = int(seed)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "seed": self.seed}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        keep = lay.modality == TEXT
        for mod, ratio in ((VIDEO, self.budget.R_v), (AUDIO, self.budget.R_a)):
            keep |= random_keep(lay, mod, target(ratio, lay.count(mod)), self.seed)
        return PreLLMResult(keep)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("random", options, OPTIONS)
    return RandomSelect(parse_budget(opts, cfg, "both"), seed=opts.integer("seed", 0))
