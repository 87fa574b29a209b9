"""Top-down token budget allocation (Sec. 4.2.2, Eq. 1): windows first, then modalities.

Given each window's visual and audio relevance S_{t,v}, S_{t,a} and the layer's modality
totals K_v = r_v*N_v, K_a = r_a*N_a:

    S_t    = (S_{t,v} + S_{t,a}) / 2                (normalised over windows)
    B_t    = (K_v + K_a) * S_t                       inter-window
    B_{t,v} = S_{t,v} K_v / (S_{t,v} K_v + S_{t,a} K_a) * B_t,  B_{t,a} = B_t - B_{t,v}

Eq. 1 does not by itself give sum_t B_{t,v} = K_v; as the paper's note prescribes, the
missing (or surplus) tokens of each modality are re-allocated proportionally to S_t, which
keeps each window's total B_t wherever the caps allow. The integers are then made exact
with `apportion`: sum_t B_{t,m} == min(K_m, N_m), B_{t,m} <= n_{t,m}, and >= 1 for every
window that has tokens of m when the total allows. All vectorised over windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seats_eval.errors import ConfigError
from seats_eval.select import checks
from seats_eval.select.apportion import apportion, waterfill


def _normalise(x: Tensor, fallback: Tensor) -> Tensor:
    """x / sum(x), or fallback / sum(fallback) when x sums to 0 (branch-free: no sync)."""
    s, fs = x.sum(), fallback.sum()
    return torch.where(s > 0, x / torch.where(s > 0, s, 1.0),
                       torch.where(fs > 0, fallback / torch.where(fs > 0, fs, 1.0), 0.0))


def _floor(n: Tensor, total: Tensor) -> Tensor:
    """At least one token per non-empty window when the total covers all of them."""
    present = (n > 0).to(torch.long)
    return torch.where(total >= present.sum(), present, 0)


def _exact_total(target: Tensor, S_t: Tensor, n: Tensor, total: Tensor) -> Tensor:
    """Integer budgets near `target` with sum == total; the gap moves proportionally to S_t
    (a positive gap fills windows below their size, a negative one drains them)."""
    n64 = n.to(torch.float64)
    c = torch.minimum(target.clamp_min(0.0), n64)
    gap = total.to(torch.float64) - c.sum()
    zero = torch.zeros_like(c)
    c = c + waterfill(S_t, gap.clamp_min(0.0), zero, n64 - c) - waterfill(S_t, (-gap).clamp_min(0.0), zero, c)
    return apportion(c, total, n, _floor(n, total))


def allocate_budgets(
    S_tv: Tensor,
    S_ta: Tensor,
    n_tv: Tensor,
    n_ta: Tensor,
    K_v: int,
    K_a: int,
    *,
    inter_window: bool = True,
    intra_window: bool = True,
    coupled: bool = True,
) -> tuple[Tensor, Tensor]:
    """Per-window video and audio budgets (B_tv, B_ta), long (W,), with exact totals.

    S_tv, S_ta: window relevances (W,) (e.g. `window_relevance`; a modality absent from a
    window must score 0 there). n_tv, n_ta: tokens of each modality per window. K_v, K_a:
    the layer's totals (clamped to the available tokens). Ablation switches (Table 5):
    inter_window=False: S_t proportional to window size (uniform for equal windows);
    intra_window=False: each window splits B_t in the ratio K_v : K_a of the modalities it
    has, ignoring S_tv / S_ta; coupled=False ("Decouple"): each modality is spread over
    windows by its own S_tm (by its own sizes when inter_window=False), no joint B_t.
    A single window gets the totals, i.e. a global top-k per modality.
    """
    n_v = torch.as_tensor(n_tv).to(torch.long).reshape(-1)
    n_a = torch.as_tensor(n_ta).to(device=n_v.device, dtype=torch.long).reshape(-1)
    W = n_v.numel()
    if not (S_tv.numel() == S_ta.numel() == n_a.numel() == W):
        raise ConfigError(
            f"S_tv, S_ta, n_tv, n_ta need one entry per window: {S_tv.numel()}, "
            f"{S_ta.numel()}, {W}, {n_a.numel()}"
        )
    if int(K_v) < 0 or int(K_a) < 0 or (checks.enabled(n_v) and (bool((n_v < 0).any()) or bool((n_a < 0).any()))):
        raise ConfigError(f"budgets and window sizes must be >= 0, got K_v={K_v}, K_a={K_a}")
    kv = n_v.sum().clamp_max(int(K_v))  # 0-d tensors: the totals stay on the device
    ka = n_a.sum().clamp_max(int(K_a))
    dev = n_v.device
    has_v, has_a = n_v > 0, n_a > 0
    sv = torch.where(has_v, S_tv.detach().to(dev, torch.float64).reshape(-1), 0.0)
    sa = torch.where(has_a, S_ta.detach().to(dev, torch.float64).reshape(-1), 0.0)
    size_v, size_a = n_v.to(torch.float64), n_a.to(torch.float64)

    if not coupled:
        wv = size_v if not inter_window else sv
        wa = size_a if not inter_window else sa
        B_v = apportion(_normalise(wv, size_v), kv, n_v, _floor(n_v, kv))
        B_a = apportion(_normalise(wa, size_a), ka, n_a, _floor(n_a, ka))
        return B_v, B_a

    size = size_v + size_a
    S_t = _normalise((sv + sa) / 2, size) if inter_window else _normalise(size, size)
    kv64, ka64 = kv.to(torch.float64), ka.to(torch.float64)
    B_t = (kv64 + ka64) * S_t
    if intra_window:
        num, other = sv * kv64, sa * ka64
    else:
        num, other = has_v.to(torch.float64) * kv64, has_a.to(torch.float64) * ka64
    den = num + other
    # Windows whose relevances are both 0: fall back to the presence-based split.
    p_num, p_den = has_v.to(torch.float64) * kv64, has_v * kv64 + has_a * ka64
    vfrac = torch.where(den > 0, num / den.clamp_min(1e-300), p_num / p_den.clamp_min(1e-300))
    vfrac = torch.where((den > 0) | (p_den > 0), vfrac, torch.full_like(vfrac, 0.5))
    B_v = _exact_total(B_t * vfrac, S_t, n_v, kv)
    B_a = _exact_total(B_t * (1.0 - vfrac), S_t, n_a, ka)
    return B_v, B_a


# -- profile=official: the authors' allocation ---------------------------------------------
def _surplus_off_the_largest(B: Tensor, surplus: Tensor, Kc: int) -> Tensor:
    """`surplus` (0-dim) single-token decrements, each off the largest B > 1 (first index on
    ties), stopping when every B is 1: the authors' loop in closed form. Levels t: every B
    above the lowest level T with sum(relu(B - t)) <= surplus comes down to T, and the rest r
    of the surplus takes one more from the first r windows at T (when T > 1)."""
    t = torch.arange(1, max(Kc, 1) + 1, device=B.device)
    over = (B[None, :] - t[:, None]).clamp_min(0).sum(1)  # tokens above each level
    # the first level that fits (over(Kc) = 0); (1,)-shaped, indexed without a host read
    T = t.index_select(0, torch.argmax((over <= surplus).long()).reshape(1))
    r = surplus - (B - T).clamp_min(0).sum()
    at = B >= T
    rank = torch.cumsum(at.long(), 0) - 1
    return torch.minimum(B, T) - (at & (rank < r) & (T > 1)).long()


def _deficit_onto_the_smallest(B: Tensor, cap: Tensor, deficit: Tensor, Kc: int) -> Tensor:
    """`deficit` (0-dim) single-token increments, each onto the smallest B below its cap
    (first index on ties), stopping when every B is at its cap: the authors' loop in closed
    form. Every B below the highest level T with sum(relu(min(t, cap) - B)) <= deficit rises
    to min(T, cap); the rest r goes one each to the first r windows at T below their cap."""
    t = torch.arange(0, max(Kc, 1) + 1, device=B.device)
    under = (torch.minimum(t[:, None], cap[None, :]) - B[None, :]).clamp_min(0).sum(1)
    T = t.index_select(0, ((under <= deficit).sum() - 1).reshape(1))  # under(0) = 0: one level fits
    raised = torch.maximum(B, torch.minimum(T, cap))
    r = deficit - (raised - B).sum()
    at = (raised == T) & (cap > T)
    rank = torch.cumsum(at.long(), 0) - 1
    return raised + (at & (rank < r)).long()


def allocate_combined(p_v: Tensor, p_a: Tensor, n_v: Tensor, n_a: Tensor, K_v: int, K_a: int, tau: float,
                      present: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-window (B_v, B_a), long (W,) on the scores' device, as the authors allocate them
    (profile=official; docs/profiles.md rule 3). No host read: no device sync.

    p_v, p_a: mean score of each window's video / audio tokens (0 where none), n_v, n_a:
    tokens per window; `present` (W,) marks the real windows (None: all; the others get 0
    and take no part). wv, wa = softmax over the real windows of p / tau (fp32);
    B_t = min(max(1, round((wv + wa) / 2 * Kc)), n_v + n_a), then one token at a time:
    surplus off the largest B_t > 1, deficit onto the smallest B_t below its cap (first
    index on ties; stop when none is eligible; computed in closed form, same result). Split:
    vfrac = wv Kv / (wv Kv + wa Ka + 1e-12), B_v = min(round(B_t vfrac), n_v),
    B_a = min(B_t - B_v, n_a), leftover to video, then audio; then a window with video but
    B_v < 1 gets 1 (and its B_a is recomputed when > 1), the same for audio. Per-modality
    totals are not enforced."""
    dev = p_v.device
    real = torch.ones(p_v.shape, dtype=torch.bool, device=dev) if present is None else present.to(dev)
    t = max(tau, 1e-4)
    wv = F.softmax(torch.where(real, p_v.float() / t, -torch.inf), dim=0)
    wa = F.softmax(torch.where(real, p_a.float() / t, -torch.inf), dim=0)
    nv, na = n_v.to(dev, torch.long), n_a.to(dev, torch.long)
    cap = nv + na
    Kc = int(K_v) + int(K_a)
    B = torch.where(real, torch.minimum((((wv + wa) / 2.0) * Kc).round().long().clamp(min=1), cap), 0)
    diff = B.sum() - Kc
    # both closed forms run (no branch on a device value); each is the identity at 0
    B = torch.where(diff > 0, _surplus_off_the_largest(B, diff.clamp_min(0), Kc),
                    _deficit_onto_the_smallest(B, cap, (-diff).clamp_min(0), Kc))
    v_share, a_share = wv * int(K_v), wa * int(K_a)
    vfrac = v_share / (v_share + a_share + 1e-12)
    vb = torch.minimum((B.float() * vfrac).round().long().clamp(min=0), nv)
    ab = torch.minimum((B - vb).clamp(min=0), na)
    rest = B - vb - ab
    extra = torch.minimum(rest.clamp(min=0), (nv - vb).clamp(min=0))
    vb, rest = vb + extra, rest - extra
    ab = ab + torch.minimum(rest.clamp(min=0), (na - ab).clamp(min=0))
    fix_v = (nv > 0) & (vb < 1)
    vb = torch.where(fix_v, torch.ones_like(vb), vb)
    ab = torch.where(fix_v & (ab > 1), torch.minimum(na, (B - vb).clamp(min=0)).clamp(min=1), ab)
    fix_a = (na > 0) & (ab < 1)
    ab = torch.where(fix_a, torch.ones_like(ab), ab)
    vb = torch.where(fix_a & (vb > 1), torch.minimum(nv, (B - ab).clamp(min=0)).clamp(min=1), vb)
    return vb, ab
