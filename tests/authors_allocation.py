"""The authors' Stage II allocation as their code runs it: the one-token-at-a-time loop on
the host (CPU tensors). The product computes the same thing on the device in closed form
(select/allocation.py `allocate_combined`); this is the tests' oracle for it, kept as the
loop was written before (issue 28), not as a second implementation in the product."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def allocate(p_v: Tensor, p_a: Tensor, n_v: Tensor, n_a: Tensor, K_v: int, K_a: int,
             tau: float) -> tuple[Tensor, Tensor]:
    """Per-window (B_v, B_a), long CPU tensors (W,), as the authors allocate them.

    p_v, p_a: mean score of each window's video / audio tokens (0 where none), n_v, n_a:
    tokens per window. wv, wa = softmax over ALL windows of p / tau (fp32);
    B_t = min(max(1, round((wv + wa) / 2 * Kc)), n_v + n_a), then one token at a time:
    surplus off the largest B_t > 1, deficit onto the smallest B_t below its cap (first
    index on ties; stop when none is eligible). Split: vfrac = wv Kv / (wv Kv + wa Ka +
    1e-12), B_v = min(round(B_t vfrac), n_v), B_a = min(B_t - B_v, n_a), leftover to video,
    then audio; then a window with video but B_v < 1 gets 1 (and its B_a is recomputed when
    > 1), the same for audio. Per-modality totals are not enforced."""
    wv = F.softmax(p_v.float() / max(tau, 1e-4), dim=0).cpu()
    wa = F.softmax(p_a.float() / max(tau, 1e-4), dim=0).cpu()
    nv, na = n_v.cpu().long(), n_a.cpu().long()
    cap = nv + na
    Kc = int(K_v) + int(K_a)
    B = torch.min((((wv + wa) / 2.0) * Kc).round().long().clamp(min=1), cap)
    # The authors' loop, one token per pass; the passes are bounded by W (rounding) on the
    # host, on W-long CPU tensors: no device work.
    diff = int(B.sum()) - Kc
    while diff != 0:
        if diff > 0:
            ok = B > 1
            if not bool(ok.any()):
                break
            B[torch.where(ok, B, torch.full_like(B, -1)).argmax()] -= 1
        else:
            ok = B < cap
            if not bool(ok.any()):
                break
            B[torch.where(ok, B, torch.full_like(B, int(cap.max()) + 1)).argmin()] += 1
        diff = int(B.sum()) - Kc
    v_share, a_share = wv * int(K_v), wa * int(K_a)
    vfrac = v_share / (v_share + a_share + 1e-12)
    vb = torch.min((B.float() * vfrac).round().long().clamp(min=0), nv)
    ab = torch.min((B - vb).clamp(min=0), na)
    rest = B - vb - ab
    extra = torch.min(rest.clamp(min=0), (nv - vb).clamp(min=0))
    vb, rest = vb + extra, rest - extra
    ab = ab + torch.min(rest.clamp(min=0), (na - ab).clamp(min=0))
    fix_v = (nv > 0) & (vb < 1)
    vb = torch.where(fix_v, torch.ones_like(vb), vb)
    ab = torch.where(fix_v & (ab > 1), torch.min(na, (B - vb).clamp(min=0)).clamp(min=1), ab)
    fix_a = (na > 0) & (ab < 1)
    ab = torch.where(fix_a, torch.ones_like(ab), ab)
    vb = torch.where(fix_a & (vb > 1), torch.min(nv, (B - ab).clamp(min=0)).clamp(min=1), vb)
    return vb, ab
