"""Window-query relevance S_{t,m} (Sec. 4.2.2): a temperature softmax over windows.

The mean last-text-token attention a window's tokens of one modality receive, divided by
tau and softmaxed over the windows that have tokens of that modality. Windows without any
such tokens get probability 0 so they neither receive budget nor dilute the others.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seats_eval.errors import ConfigError
from seats_eval.select import checks


def segment_mean(
    values: Tensor, segment: Tensor, num_segments: int, member: Tensor
) -> tuple[Tensor, Tensor]:
    """(mean, count) per segment over the member positions; mean is 0 for empty segments.

    fp32 scatter sums: a segment id outside [0, num_segments) on a member is an error.
    Non-members are scattered as zeros into segment 0 (no boolean indexing: no device sync).
    """
    v = values.to(torch.float32).reshape(-1)
    seg = segment.reshape(-1)
    mem = member.to(torch.bool).reshape(-1)
    if not (v.shape == seg.shape == mem.shape):
        raise ConfigError(
            f"values, segment, member must have equal shapes: {tuple(values.shape)}, "
            f"{tuple(segment.shape)}, {tuple(member.shape)}"
        )
    if checks.enabled(seg) and bool(mem.any()):
        seg_m = seg[mem]
        if int(seg_m.min()) < 0 or int(seg_m.max()) >= num_segments:
            raise ConfigError(f"member tokens need window ids in [0, {num_segments})")
    idx = torch.where(mem, seg.to(torch.long), 0)
    sums = torch.zeros(num_segments, dtype=torch.float32, device=v.device)
    sums.index_add_(0, idx, torch.where(mem, v, 0.0))
    counts = torch.zeros(num_segments, dtype=torch.long, device=v.device)
    counts.index_add_(0, idx, mem.to(torch.long))
    mean = sums / counts.clamp_min(1).to(torch.float32)
    return mean, counts


def masked_softmax(logits: Tensor, present: Tensor) -> Tensor:
    """Softmax over the `present` entries only; the rest (or all, if none present) get 0."""
    x = torch.where(present, logits, torch.full_like(logits, -torch.inf))
    return torch.where(present.any(), torch.softmax(x, dim=0), 0.0)  # none present: 0, not NaN


def window_relevance(
    scores: Tensor,
    window: Tensor,
    num_windows: int,
    member: Tensor,
    tau: float,
) -> Tensor:
    """S_{t,m} (W,): softmax over windows of (mean member score of window t) / tau.

    scores: (S,) per-token query relevance (e.g. last-text-token attention), window: (S,)
    window id per token (-1 or anything for non-members), member: (S,) tokens of this
    modality. Windows with no member get 0 and are excluded from the softmax.
    """
    if not tau > 0:
        raise ConfigError(f"tau must be > 0, got {tau}")
    mean, counts = segment_mean(scores, window, num_windows, member)
    return masked_softmax(mean / float(tau), counts > 0)
