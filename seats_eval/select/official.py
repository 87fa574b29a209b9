"""The authors' Stage I max-min rules (xxayt/SEATS @ c553732), for `profile=official`.

Every other rule of the official profile lives with the concept it decides (docs/profiles.md
lists them side by side): the Stage II allocation and windows in select/allocation.py
(`allocate_combined`, `run_windows`), SEATS' Stage II counts and gate in methods/seats.py,
VisionZip's counts in methods/visionzip.py, the audio-intact re-allocation and Random's
floored count in methods/common.py. Pure tensor code, no model imports.

5. `tile_counts`: Stage I windows tile each modality's token list; per window
   max(1, min(w, round(ratio * w))) with Python's round on the raw product.
6. `maxmin_windows`: max-min diversity with 1 - cos distances unclamped, the first pick by
   the second-smallest entry of each column (self included), windows batched by (size, k).
"""

from __future__ import annotations

import torch
from torch import Tensor

from seats_eval.errors import ConfigError


# -- Stage I -------------------------------------------------------------------------------
def tile_counts(sizes: list[int], ratio: float) -> list[int]:
    """Tokens kept per Stage I window of `sizes` tokens: max(1, min(w, round(ratio * w))).

    Python's round (half to even) on the raw float product: 0.91 * 50 = 45.4999... gives 45
    (the paper profile's 9-decimal pre-round gives 46)."""
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"Stage I ratio must be in [0, 1] (the authors assert it), got {ratio}")
    return [max(1, min(w, round(ratio * w))) for w in sizes]


def tile_windows(n: int, size: int) -> list[int]:
    """Sizes of the windows that tile a modality's token list of length n from 0 (the last
    one may be shorter)."""
    if size < 1:
        raise ConfigError(f"window size must be >= 1, got {size}")
    return [min(size, n - s) for s in range(0, n, size)]


def maxmin_batch(feats: Tensor, weights: Tensor | None, k: int) -> Tensor:
    """Indices (B, k), ascending, of the greedy max-min subset of each of B equal windows.

    feats (B, N, D); weights (B, N) or None. Distances 1 - <f_i, f_j> of f / (|f| + 1e-8) in
    fp32, not clamped; with weights each column j is scaled by a_j * 1e6 (the constant is
    the authors'; it changes no comparison but the rounding, so it is kept). First pick:
    argmax over j of the second-smallest D[i, j] over i (the smallest is usually the
    self-distance); then repeatedly the argmax of the running min, picked ones set to -1.
    Ties go to the first index (torch.argmax)."""
    B, N, _ = feats.shape
    if k >= N:
        return torch.arange(N, device=feats.device).expand(B, N)
    f = feats.float()
    f = f / (f.norm(p=2, dim=-1, keepdim=True) + 1e-8)
    dist = 1.0 - torch.bmm(f, f.transpose(-1, -2))
    if weights is not None:
        dist = dist * (weights.float() * 1e6).unsqueeze(1)
    rows = torch.arange(B, device=feats.device)
    picked = torch.empty(B, k, dtype=torch.long, device=feats.device)
    first = torch.topk(dist, k=2, dim=1, largest=False).values[:, 1, :].argmax(dim=-1)
    picked[:, 0] = first
    m = dist[rows, first].clone()
    m[rows, first] = -1.0
    for i in range(1, k):
        s = m.argmax(dim=-1)
        picked[:, i] = s
        m = torch.minimum(m, dist[rows, s])
        m[rows, s] = -1.0
    return picked.sort(dim=-1).values


def maxmin_windows(feats: Tensor, weights: Tensor | None, sizes: list[int], counts: list[int]) -> Tensor:
    """Keep mask (N,) over one modality's tokens (feats (N, D) in sequence order, weights
    (N,) or None) tiled into windows of `sizes`, keeping `counts[i]` of window i.

    Windows with k >= w are kept whole; the others are batched by equal (w, k), as the
    authors batch them (equal shapes, hence the same matmul shapes)."""
    n = feats.shape[0]
    keep = torch.zeros(n, dtype=torch.bool, device=feats.device)
    starts = [0]
    for w in sizes[:-1]:
        starts.append(starts[-1] + w)
    groups: dict[tuple[int, int], list[int]] = {}
    for s, w, k in zip(starts, sizes, counts, strict=True):
        if k >= w:
            keep[s:s + w] = True
        else:
            groups.setdefault((w, k), []).append(s)
    for (w, k), first in groups.items():
        idx = torch.tensor(first, device=feats.device)[:, None] + torch.arange(w, device=feats.device)
        picked = maxmin_batch(feats[idx], weights[idx] if weights is not None else None, k)
        keep[idx.gather(1, picked).flatten()] = True
    return keep
