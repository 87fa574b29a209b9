"""Shared budget parsing and exact-budget helpers of the methods.

Every method but `full` and `remove_at` takes the common options R, mode, R_v, R_a
(`parse_budget`, read through methods/options.py) plus its own; the per-modality token
target is round(R_m * N_m) (at least 1 for a non-empty modality), split over frames or
windows with `split_exact` so the total is exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..backbones.budgets import Budget, resolve_budget, round_count, split_budget
from ..backbones.config import BackboneConfig
from ..errors import SeatsError
from ..layout import AUDIO, VIDEO, TokenLayout
from ..select import apportion
from .options import BUDGET_RULES, Options

BUDGET_OPTIONS = {"R", "mode", "R_v", "R_a", "profile"}
# official: the authors' rules (the default of every model id); paper: the text's (docs/profiles.md)
PROFILES = BUDGET_RULES["profile"].choices


def parse_budget(opts: Options, cfg: BackboneConfig, default_mode: str) -> Budget:
    """Budget from R / mode / R_v / R_a (mode defaults to the method's Table 7 mode); the
    `profile` option is checked here too (methods whose rules do not differ accept it)."""
    rules = BUDGET_RULES
    opts.get("profile", rules["profile"], "official")
    R = opts.get("R", rules["R"])
    n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
    mode = opts.get("mode", rules["mode"], default_mode)
    return resolve_budget(R, mode, n_v, n_a, R_v=opts.get("R_v", rules["R_v"], None),
                          R_a=opts.get("R_a", rules["R_a"], None), backbone=cfg)


def intact_start(opts: Options, cfg: BackboneConfig, budget: Budget) -> tuple[float, float]:
    """The (R_v, R_a) an audio-intact method starts from under profile=official, before the
    per-sample `audio_intact_reallocate`: the authors' scripts pass Table 7's both-selected
    pair of R; an explicit R_v gives (R_v, 1)."""
    if "R_v" in opts or budget.R >= 1.0:
        return budget.R_v, budget.R_a
    return split_budget(budget.R, "both", cfg.video_tokens_per_window, cfg.audio_tokens_per_window, cfg)


def target(ratio: float, n: int) -> int:
    """Tokens kept of a modality with n tokens: round(ratio * n), >= 1 when n > 0, <= n."""
    if n <= 0:
        return 0
    return min(n, max(1, round_count(ratio * n)))


def split_exact(sizes: Tensor, total: int, weights: Tensor | None = None, floor: Tensor | None = None) -> Tensor:
    """Integer parts of `total` over groups, proportional to `weights` (default: sizes),
    capped by the sizes, summing exactly to total (which must be <= sum(sizes)).

    Each non-empty group gets at least one token when the total allows it; `floor` adds
    further lower bounds (sum(floor) <= total is the caller's promise).
    """
    sizes = sizes.to(torch.long)
    total = int(total)
    if total > int(sizes.sum()) or total < 0:
        raise SeatsError(f"cannot keep {total} of {int(sizes.sum())} tokens")
    lo = torch.zeros_like(sizes)
    nonempty = sizes > 0
    if total >= int(nonempty.sum()):
        lo = nonempty.to(torch.long)
    if floor is not None:
        lo = torch.maximum(lo, floor.to(sizes))
        if int(lo.sum()) > total:
            raise SeatsError(f"floors {int(lo.sum())} exceed the budget {total}")
    w = (sizes if weights is None else weights).to(torch.float64)
    out = apportion(w, total, sizes, lo)
    assert int(out.sum()) == total
    return out


def group_matrix(group: Tensor, member: Tensor, num_groups: int) -> tuple[Tensor, Tensor]:
    """(G, n_max) positions of the member tokens of each group (padding -1), valid mask.

    Members of a group must appear contiguously in sequence order (frames and windows do).
    """
    pos = torch.nonzero(member).flatten()
    dev = member.device
    if pos.numel() == 0 or num_groups == 0:
        return (torch.full((num_groups, 0), -1, dtype=torch.long, device=dev),
                torch.zeros(num_groups, 0, dtype=torch.bool, device=dev))
    g = group[pos]
    counts = torch.bincount(g, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(pos.numel(), device=dev) - starts[g]
    mat = torch.full((num_groups, int(counts.max())), -1, dtype=torch.long, device=dev)
    mat[g, rank] = pos
    return mat, mat >= 0


def frame_matrix(layout: TokenLayout) -> tuple[Tensor, Tensor]:
    """(F, n) positions of the video tokens of each temporal grid ("frame" in the LLM)."""
    video = layout.modality == VIDEO
    F_ = int(layout.frame[video].max()) + 1 if bool(video.any()) else 0
    return group_matrix(layout.frame, video, F_)


def random_keep(layout: TokenLayout, modality: int, k: int, seed: int) -> Tensor:
    """(S,) mask of k tokens of `modality` drawn uniformly (CPU generator seeded by `seed`)."""
    pos = torch.nonzero(layout.modality == modality).flatten()
    keep = torch.zeros(layout.length, dtype=torch.bool, device=layout.modality.device)
    if k <= 0 or pos.numel() == 0:
        return keep
    gen = torch.Generator(device="cpu").manual_seed(int(seed) + 7919 * int(modality))
    chosen = torch.randperm(pos.numel(), generator=gen)[:k].to(pos.device)
    keep[pos[chosen]] = True
    return keep


def audio_rest(layout: TokenLayout, budget: Budget, seed: int) -> Tensor:
    """Audio kept by a video-only method: all of it when R_a = 1, else a seeded uniform draw
    of round(R_a * N_a) tokens (what the reference code does when audio cannot stay intact)."""
    n_a = layout.count(AUDIO)
    if budget.R_a >= 1.0:
        return layout.modality == AUDIO
    return random_keep(layout, AUDIO, target(budget.R_a, n_a), seed)


def signal(signals: Any, name: str, method: str, sample: str) -> Tensor:
    """An encoder signal (S,) the method needs; a clear error when it was not captured."""
    value = getattr(signals, name, None) if signals is not None else None
    if value is None:
        raise SeatsError(f"{method}: needs encoder signal {name} but none was captured ({sample})")
    return value
