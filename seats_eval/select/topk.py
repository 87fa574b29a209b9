"""Per-window top-k by score (Sec. 4.2.3) and its single-window special case, global top-k.

Vectorised with two stable sorts (score descending, then window) and the rank of each
token inside its window from segment offsets, so ties always go to the lower index and the
result does not depend on the device's sort implementation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seats_eval.errors import ConfigError
from seats_eval.select import checks


def topk_per_window(scores: Tensor, window: Tensor, budget: Tensor, member: Tensor) -> Tensor:
    """Keep mask (S,): in each window w, the budget[w] member tokens with the highest score.

    scores, window, member: (S,); budget: (W,) long. Non-members are never kept (their
    window id may be anything, e.g. -1 for text). A budget above a window's member count
    keeps all its members. Ties go to the lower index; NaN scores rank last.
    """
    s = scores.detach().to(torch.float32).reshape(-1)
    win = window.reshape(-1).to(torch.long)
    mem = member.reshape(-1).to(torch.bool)
    bud = torch.as_tensor(budget, device=s.device).to(torch.long).reshape(-1)
    if not (s.shape == win.shape == mem.shape):
        raise ConfigError(
            f"scores, window, member must have equal shapes: {tuple(scores.shape)}, "
            f"{tuple(window.shape)}, {tuple(member.shape)}"
        )
    W = bud.numel()
    S = s.numel()
    if checks.enabled(bud):  # value checks read the host: skipped on accelerators (checks.py)
        if bool((bud < 0).any()):
            raise ConfigError("budgets must be >= 0")
        if bool(mem.any()) and (int(win[mem].min()) < 0 or int(win[mem].max()) >= W):
            raise ConfigError(f"member tokens need window ids in [0, {W})")
    if S == 0:
        return torch.zeros(0, dtype=torch.bool, device=s.device)
    s = torch.nan_to_num(s, nan=-torch.inf)
    win_key = torch.where(mem, win, torch.full_like(win, W))  # non-members: sentinel window W
    by_score = torch.sort(s, descending=True, stable=True).indices
    by_window = torch.sort(win_key[by_score], stable=True).indices
    order = by_score[by_window]  # grouped by window, score descending, index ascending
    sorted_win = win_key[order]
    counts = torch.zeros(W + 1, dtype=torch.long, device=s.device)  # bincount would sync for its size
    counts.index_add_(0, sorted_win, torch.ones_like(sorted_win))
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(S, device=s.device) - starts[sorted_win]
    bud_ext = torch.cat([bud, torch.zeros(1, dtype=torch.long, device=s.device)])
    keep_sorted = rank < bud_ext[sorted_win]
    keep = torch.zeros(S, dtype=torch.bool, device=s.device)
    keep[order] = keep_sorted
    return keep


def global_topk(scores: Tensor, member: Tensor, k: int | Tensor) -> Tensor:
    """Keep mask (S,) of the k member tokens with the highest score (ties: lower index)."""
    win = torch.zeros(scores.numel(), dtype=torch.long, device=scores.device)
    if isinstance(k, Tensor):
        budget = k.to(device=scores.device, dtype=torch.long).reshape(1)
    else:  # a fill, not a copy of host data: no host-to-device transfer (sync) in the decoder loop
        budget = torch.full((1,), int(k), dtype=torch.long, device=scores.device)
    return topk_per_window(scores, win, budget, member)
