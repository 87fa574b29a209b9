"""DyCoke, prefill TTM module only (audio-intact): temporal merging in 4-frame groups.

A "frame" here is one LLM temporal grid (2 video frames at 2 fps): the reference notes'
recommended port, so a group of 4 grids spans 4 s (2 windows). Per group (f0, f1, f2, f3):
f0 is kept whole; f1 and f2 keep the tokens least similar (cosine, same spatial position)
to f0, f3 those least similar to the unpruned f2, as the original TTM's two passes. The
pruned tokens are temporally redundant copies; like the original, nothing is averaged.

Budget: round(R_v * N_v) video tokens in total. The first frames of complete groups are
kept whole; the rest is split exactly over the other frames (the original's per-frame
int((1 - k) * n) with k solved from R_v). Frames after the last complete group compare
with the previous frame; a clip shorter than one group keeps its first frame whole. Since
f0 is always kept, R_v < 25% cannot be reached: it fails at load (at R=0.35 audio-intact
R_v is 23.7% on Qwen2.5-Omni; pass R_v=0.25 for the paper's DyCoke row, which realised
25%). A sample whose first frames alone exceed the budget (fewer than 4 grids) fails with
a clear error. With R_a < 1 audio is dropped by a seeded uniform draw.
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig
from ..errors import ConfigError, DataError
from ..layout import TEXT
from ..select.merge import cosine_rows, group_topk
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, audio_rest, parse_budget, split_exact, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"seed", "group"}


def reference_frames(num_frames: int, group: int = 4, device: torch.device | None = None) -> torch.Tensor:
    """(F,) the frame each frame is compared with; -1 for kept-whole first frames.

    In a complete group: p=1 -> f0, p=2 -> f0, p=3 -> f2 (p = position in the group); the
    trailing partial group's frames refer to the previous frame, except when the clip has
    no complete group (then its first frame is kept whole).
    """
    f = torch.arange(num_frames, device=device)
    p = f % group
    complete = f < (num_frames // group) * group
    ref = torch.where(p == group - 1, f - 1, f - p)  # f3 -> f2, f1/f2 -> f0
    ref = torch.where(complete, ref, f - 1)
    ref = torch.where(complete & (p == 0), torch.full_like(f, -1), ref)
    if num_frames and num_frames < group:
        ref[0] = -1
    return ref


class DyCoke(Method):
    name = "dycoke"

    def __init__(self, budget: Budget, seed: int = 0, group: int = 4, profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)  # no rule differs (docs/profiles.md)
        if budget.R_v < 1.0 / group - 1e-12:
            raise ConfigError(
                f"dycoke: R_v={budget.R_v:.4f} < {1 / group:.2f}: TTM keeps the first frame of every "
                f"{group}-frame group, so R_v cannot go below {1 / group:.0%} (R={budget.R}, mode "
                f"{budget.mode}); pass R_v={1 / group} explicitly to run at the floor, as the paper's R=35 row does")
        self.budget, self.seed, self.group = budget, int(seed), int(group)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "group": self.group}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        keep = (lay.modality == TEXT) | audio_rest(lay, self.budget, self.seed)
        fm, fv = lay.frame_matrix()
        F_ = fm.shape[0]
        if F_ == 0:
            return PreLLMResult(keep)
        sizes = fv.sum(1)
        total = target(self.budget.R_v, int(sizes.sum()))
        ref = reference_frames(F_, self.group, fm.device)
        first = ref < 0
        n_first = int(sizes[first].sum())
        if n_first > total:
            raise DataError(f"dycoke: {ctx.sample}: {F_} temporal grid(s) leave {n_first} first-frame tokens "
                             f"but the budget is {total} (R_v={self.budget.R_v:.3f}); the clip is shorter than "
                             f"one {self.group}-frame group")
        k = torch.where(first, sizes, torch.zeros_like(sizes))
        others = ~first
        k[others] = split_exact(sizes[others], total - n_first)
        # redundancy of each token w.r.t. the same spatial position in its reference frame
        e = ctx.embeds
        own = e[fm.clamp_min(0)]
        other = e[fm[ref.clamp_min(0)].clamp_min(0)]
        sim = cosine_rows(own, other)
        ref_valid = fv[ref.clamp_min(0)]
        sim = torch.where(ref_valid, sim, torch.full_like(sim, -1.0))  # no counterpart: least redundant
        kept = group_topk(-sim, k, fv)
        kept |= fv & first[:, None]
        keep[fm[kept]] = True
        return PreLLMResult(keep)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("dycoke", options, OPTIONS)
    return DyCoke(parse_budget(opts, cfg, "audio_intact"), seed=opts.integer("seed", 0),
                  group=opts.integer("group", 4, lo=1), profile=opts.profile())
