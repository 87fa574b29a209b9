"""Random: uniform random selection per modality at (R_v, R_a) before the LLM.

Global per modality (no windows), as the reference baseline; unlike the reference the draw
is seeded (`seed`, default 0), so a run is reproducible. Default mode: both-selected.
Counts: `profile=official` (default) max(int(R_m * N_m), 1) as the authors' code (R_v=0.06,
N=9216: 552); `paper` round(R_m * N_m) (553). On Qwen3-Omni `official` draws at the pairs
the authors' Qwen3 script passes, the Qwen2.5 ones (`SCRIPT_PAIRS`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..budgets import Budget
from ..config import BackboneConfig, normalise_name
from ..layout import AUDIO, TEXT, VIDEO
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, floor_count, parse_budget, random_keep, script_pair, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"seed"}
# profile=official on Qwen3-Omni: scripts/eval_qwen3_omni_random.sh passes the Qwen2.5 pairs
# (backbone -> R -> (R_v, R_a)), not Table 7's Qwen3 ones.
SCRIPT_PAIRS: dict[str, dict[float, tuple[float, float]]] = {
    "qwen3_omni_30b_a3b": {0.35: (0.30, 0.65), 0.25: (0.20, 0.55), 0.15: (0.10, 0.45), 0.10: (0.06, 0.35)},
}


class RandomSelect(Method):
    name = "random"

    def __init__(self, budget: Budget, seed: int = 0, profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)
        self.budget = budget
        self.seed = int(seed)
        self._count = floor_count if self.profile == "official" else target  # the profile's rule, chosen once

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "seed": self.seed,
                "profile": self.profile}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        keep = lay.modality == TEXT
        for mod, ratio in ((VIDEO, self.budget.R_v), (AUDIO, self.budget.R_a)):
            if ratio >= 1.0:
                keep |= lay.modality == mod
                continue
            keep |= random_keep(lay, mod, self._count(ratio, lay.count(mod)), self.seed)
        return PreLLMResult(keep)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("random", options, OPTIONS)
    budget = parse_budget(opts, cfg, "both")
    profile = opts.profile()
    pair = script_pair(SCRIPT_PAIRS, normalise_name(cfg.name), budget.R) if budget.mode == "both" else None
    if profile == "official" and pair is not None and "R_v" not in opts and "R_a" not in opts:
        budget = replace(budget, R_v=pair[0], R_a=pair[1])
    return RandomSelect(budget, seed=opts.integer("seed", 0), profile=profile)
