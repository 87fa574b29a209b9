"""Greedy max-min diversity selection (DivPrune), optionally attention-weighted (winDivPrune).

Stage I of SEATS (Sec. 4.1) keeps, per 2-s window and modality, a diverse yet salient subset
of the encoder tokens. All windows are processed at once on padded (W, n, d) tensors; the
only Python loop runs over the greedy steps (max k), never over tokens or windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seats_eval.errors import ConfigError


def cosine_distance(feats: Tensor) -> Tensor:
    """Pairwise d = 1 - cos of L2-normalised fp32 features: (W, n, d) -> (W, n, n), >= 0."""
    f = F.normalize(feats.to(torch.float32), dim=-1, eps=1e-8)
    return (1.0 - f @ f.transpose(-1, -2)).clamp_min(0.0)


def weighted_maxmin(
    feats: Tensor,
    k: Tensor,
    weights: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """Keep mask (W, n) of the greedy weighted max-min subset of each window.

    Candidate j's score is a_j * min over selected s of d(s, j) (a_j = weights, 1 if None:
    plain DivPrune). The first pick maximises a_j times the distance to j's nearest other
    valid token; ties go to the lowest index. Window w stops after k[w] picks; k[w] = 0 keeps
    nothing and k[w] >= its valid count keeps every valid token. `valid` marks real tokens
    in padded windows (padding is never selected).
    """
    if feats.dim() != 3:
        raise ConfigError(f"feats must be (W, n, d), got shape {tuple(feats.shape)}")
    W, n, _ = feats.shape
    device = feats.device
    k = torch.as_tensor(k, device=device).to(torch.long).reshape(-1)
    if k.numel() != W:
        raise ConfigError(f"k must have one entry per window ({W}), got {k.numel()}")
    if bool((k < 0).any()):
        raise ConfigError("k must be >= 0")
    if valid is None:
        valid = torch.ones(W, n, dtype=torch.bool, device=device)
    valid = valid.to(device=device, dtype=torch.bool)
    if weights is None:
        a = torch.ones(W, n, dtype=torch.float32, device=device)
    else:
        a = weights.to(device=device, dtype=torch.float32)
        if a.shape != (W, n):
            raise ConfigError(f"weights must be (W, n) = {(W, n)}, got {tuple(a.shape)}")
        if bool((a[valid] < 0).any()):
            raise ConfigError("weights must be >= 0")
    if W == 0 or n == 0:
        return torch.zeros(W, n, dtype=torch.bool, device=device)

    n_valid = valid.sum(1)
    keep_all = k >= n_valid
    k_greedy = torch.where(keep_all, torch.zeros_like(k), k)  # picks the greedy must make
    keep = valid & keep_all[:, None]
    steps = int(k_greedy.max())
    if steps == 0:
        return keep

    dist = cosine_distance(feats)  # (W, n, n), row = selected s, column = candidate j
    neg = torch.tensor(-torch.inf, device=device)
    # Score of candidate j given selected s: a_j * d(s, j).
    score = dist * a[:, None, :]

    # First pick: a_j * distance to the nearest other valid token.
    eye = torch.eye(n, dtype=torch.bool, device=device)
    others = valid[:, :, None] & ~eye  # row i may serve as j's neighbour
    nn_dist = torch.where(others, dist, torch.inf).amin(1)  # (W, n)
    first_score = torch.where(nn_dist.isfinite(), a * nn_dist, 0.0)
    first_score = torch.where(valid, first_score, neg)

    rows = torch.arange(W, device=device)
    active = k_greedy > 0
    first = first_score.argmax(1)
    selected = torch.zeros(W, n, dtype=torch.bool, device=device)
    selected[rows[active], first[active]] = True
    # m_j = a_j * min over selected s of d(s, j); -inf once picked or invalid.
    m = score[rows, first]
    m = torch.where(valid & ~selected, m, neg)
    for step in range(1, steps):  # a loop over greedy picks, each batched over all windows
        s = m.argmax(1)
        selected[rows, s] |= k_greedy > step  # windows that are done pick nothing
        m = torch.minimum(m, score[rows, s]).masked_fill_(selected, -torch.inf)
    return keep | selected
