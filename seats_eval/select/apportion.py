"""Exact-total proportional budgets with per-entry caps and floors (water-filling).

Every place that splits an integer token budget over windows (Stage I per-window counts,
Stage II inter-/intra-window allocation) needs the same guarantees: the parts sum exactly to
the total, each part stays within [floor, cap], and the split is as proportional to the
weights as the bounds allow. `waterfill` gives the real-valued split, `apportion` rounds it
with the largest-remainder method.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seats_eval.errors import ConfigError
from seats_eval.select import checks


def _relu_sum(c: Tensor, w: Tensor, p: Tensor) -> Tensor:
    """F(p) = sum_i w_i * max(0, p - c_i) at every point of p (sorted cumulative sums)."""
    c_sorted, order = torch.sort(c)
    w_sorted = w[order]
    zero = torch.zeros(1, dtype=w.dtype, device=w.device)
    cw = torch.cat([zero, torch.cumsum(w_sorted, 0)])
    cwc = torch.cat([zero, torch.cumsum(w_sorted * c_sorted, 0)])
    idx = torch.searchsorted(c_sorted, p, right=True)  # number of c_i <= p
    return p * cw[idx] - cwc[idx]


def _waterfill_positive(w: Tensor, target: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """clamp(t * w, lo, hi) with t solving sum = target; all w > 0, sum lo <= target <= sum hi.

    g(t) = sum_i clamp(t * w_i, lo_i, hi_i) is piecewise linear and non-decreasing with kinks
    at lo_i / w_i and hi_i / w_i: evaluate it at every kink (O(W log W)), find the segment
    holding the target and interpolate linearly inside it.
    """
    a, b = lo / w, hi / w
    p, _ = torch.sort(torch.cat([a, b]))
    g = lo.sum() + _relu_sum(a, w, p) - _relu_sum(b, w, p)
    g = torch.cummax(g, 0).values  # guard monotonicity against float noise
    j = torch.searchsorted(g, target.reshape(1)).clamp(1, p.numel() - 1)
    g0, g1, p0, p1 = g[j - 1], g[j], p[j - 1], p[j]
    span = g1 - g0
    frac = torch.where(span > 0, (target - g0) / torch.where(span > 0, span, 1.0), 1.0)
    t = torch.where(target <= g[0], p[0], p0 + frac.clamp(0, 1) * (p1 - p0))
    return torch.minimum(torch.maximum(t * w, lo), hi)


def _waterfill_masked(w: Tensor, target: Tensor, lo: Tensor, hi: Tensor, mask: Tensor) -> Tensor:
    """`_waterfill_positive` over the `mask` entries only (the rest get 0), without boolean
    indexing: unmasked entries take w = 1 and lo = hi = 0, so they add nothing to the sum."""
    one = torch.ones_like(w)
    zero = torch.zeros_like(w)
    x = _waterfill_positive(torch.where(mask, w, one), target, torch.where(mask, lo, zero),
                            torch.where(mask, hi, zero))
    return torch.where(mask, x, zero)


def waterfill(weights: Tensor, total: float | Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Real-valued split of `total` proportional to `weights` within [lo, hi] (float64).

    Result x_i = clamp(t * weights_i, lo_i, hi_i) with one common t, so sum(x) equals
    total clamped to [sum(lo), sum(hi)]. Zero-weight entries stay at lo until every
    positive-weight entry is at its cap; then the rest is spread over them uniformly.
    All-zero weights mean a uniform split. Branch-free: no value is read on the host
    (checks.py), so it runs inside the decoder loop without a device sync.
    """
    w = weights.detach().to(torch.float64).reshape(-1)
    lo64 = lo.detach().to(torch.float64).reshape(-1)
    hi64 = hi.detach().to(torch.float64).reshape(-1)
    if not (w.shape == lo64.shape == hi64.shape):
        raise ConfigError(
            f"weights, lo, hi must have equal shapes: {w.shape}, {lo.shape}, {hi.shape}"
        )
    if w.numel() == 0:
        return w.clone()
    if checks.enabled(w):
        if bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
            raise ConfigError("weights must be finite and >= 0")
        if bool((lo64 > hi64).any()):
            raise ConfigError("lower bounds must not exceed the caps")
    tgt = torch.as_tensor(total, dtype=torch.float64, device=w.device).reshape(())
    tgt = torch.minimum(torch.maximum(tgt, lo64.sum()), hi64.sum())
    w = torch.where((w > 0).any(), w, torch.ones_like(w))  # all zero: uniform
    pos = w > 0
    # Positive weights fill first, zero weights stay at lo ...
    fill_pos = torch.where(pos, _waterfill_masked(w, tgt - (lo64 * ~pos).sum(), lo64, hi64, pos), lo64)
    # ... unless the positives are all capped: then the zero-weight entries share the rest.
    rest = _waterfill_masked(torch.ones_like(w), tgt - (hi64 * pos).sum(), lo64, hi64, ~pos)
    fill_zero = torch.where(pos, hi64, rest)
    return torch.where(tgt <= (hi64 * pos).sum() + (lo64 * ~pos).sum(), fill_pos, fill_zero)


def _rank_of(priority: Tensor, eligible: Tensor) -> Tensor:
    """Each entry's rank among the eligible ones by descending priority (ties: lower index);
    ineligible entries rank after all eligible ones."""
    key = torch.where(eligible, priority, torch.full_like(priority, -torch.inf))
    order = torch.sort(key, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    return torch.where(eligible, rank, torch.full_like(rank, order.numel()))


def apportion(
    weights: Tensor,
    total: int | Tensor,
    caps: Tensor,
    floor: Tensor | None = None,
) -> Tensor:
    """Integer budgets proportional to `weights` with an exact sum (largest remainder).

    Returns a long tensor r with floor <= r <= caps and sum(r) == total, where total is first
    clamped to [sum(floor), sum(caps)]: a total above sum(caps) returns caps, one below
    sum(floor) returns floor. The real-valued split is `waterfill`; the fractional parts
    decide who gets the leftover units (ties: lower index). `total` may be a 0-d tensor:
    nothing is read on the host, so no device sync.
    """
    caps_l = caps.detach().to(torch.long).reshape(-1)
    floor_l = (
        torch.zeros_like(caps_l) if floor is None else floor.detach().to(torch.long).reshape(-1)
    )
    if caps_l.shape != weights.reshape(-1).shape or floor_l.shape != caps_l.shape:
        raise ConfigError(
            f"weights, caps, floor must have equal shapes: {tuple(weights.shape)}, "
            f"{tuple(caps.shape)}, {None if floor is None else tuple(floor.shape)}"
        )
    if checks.enabled(caps_l) and (bool((floor_l < 0).any()) or bool((floor_l > caps_l).any())):
        raise ConfigError("apportion needs 0 <= floor <= caps for every entry")
    if caps_l.numel() == 0:
        return caps_l.clone()
    tgt = torch.as_tensor(total, dtype=torch.long, device=caps_l.device).reshape(())
    tgt = torch.minimum(torch.maximum(tgt, floor_l.sum()), caps_l.sum())
    x = waterfill(weights, tgt, floor_l, caps_l)
    base = torch.floor(x + 1e-9).to(torch.long)
    base = torch.minimum(torch.maximum(base, floor_l), caps_l)
    frac = x - base.to(torch.float64)
    # sum(x) == tgt with x <= caps, so the deficit is below the number of entries with a
    # fractional part, all of them below their cap: one round of largest remainders makes
    # the sum exact (a surplus, from float noise only, takes units back the same way).
    deficit = tgt - base.sum()
    add = _rank_of(frac, base < caps_l) < deficit.clamp_min(0)
    sub = _rank_of(-frac, base > floor_l) < (-deficit).clamp_min(0)
    base = base + add.to(torch.long) - sub.to(torch.long)
    if checks.enabled(base) and int(base.sum()) != int(tgt):
        raise AssertionError(f"apportion: sum {int(base.sum())} != total {int(tgt)}")
    return base
