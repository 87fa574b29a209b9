"""Greedy max-min diversity selection (DivPrune), optionally attention-weighted (winDivPrune).

Stage I of SEATS (Sec. 4.1) keeps, per 2-s window and modality, a diverse yet salient subset
of the encoder tokens. All windows are processed at once on padded (W, n, d) tensors; the
only Python loop runs over the greedy steps (max k), never over tokens or windows.
The official profile's Stage I (the authors' tiling, unclamped distances, first pick by the
second-nearest row) is `authors_stage1`, in the authors' order of operations, bit for bit.
`maxmin_tiles` computes the same on strided views in one greedy loop (0.42x the time, bench
stage1) but differs in the last bits, which changed kept tokens at near-ties on a trained
model: a measured candidate, not the product path.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# -- Stage I of the official profile: the authors' tiling and max-min, without copies --------
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


@dataclass(frozen=True)
class Tiling:
    """One modality's Stage I tiles: `positions` (N,) ascending rows of the embeddings, cut
    into consecutive windows of `sizes`, window i keeping `counts[i]`; `weights` (N,) the
    attention weights of those rows (None: unweighted)."""

    positions: Tensor
    sizes: list[int]
    counts: list[int]
    weights: Tensor | None = None


def _window_rows(embeds: Tensor, rows: Tensor) -> Tensor:
    """(B, w, d) features of B windows given their rows (B, w) of `embeds` (S, d): a strided
    view when every window is a contiguous run and the runs are equally spaced (the
    processor's interleaved layout: no copy), else one gather."""
    B, w = rows.shape
    first = rows[:, 0].tolist()  # host read: Stage I runs before the LLM, where a sync costs nothing
    contiguous = bool(((rows[:, -1] - rows[:, 0]) == w - 1).all())  # ascending, distinct: a run
    step = first[1] - first[0] if B > 1 else 0
    spaced = all(first[i + 1] - first[i] == step for i in range(B - 1))
    if contiguous and spaced and embeds.stride(-1) == 1:
        d, s0 = embeds.shape[-1], embeds.stride(0)
        return embeds.as_strided((B, w, d), (step * s0, s0, 1), embeds.storage_offset() + first[0] * s0)
    return embeds[rows]


def maxmin_tiles(embeds: Tensor, tilings: list[Tiling]) -> Tensor:
    """Keep mask (S,) over the rows of `embeds` (S, d): the authors' greedy max-min subset of
    every Stage I window of every tiling, all windows in one greedy loop.

    Distances 1 - <f_i, f_j> / ((|f_i| + 1e-8)(|f_j| + 1e-8)) in fp32, not clamped; with
    weights column j is scaled by a_j * 1e6 (the authors' constant: it changes no comparison
    but the rounding). First pick: argmax over j of the second-smallest D[i, j] over i (the
    smallest is usually the self-distance); then repeatedly the argmax of the running min,
    picked ones set to -1; ties go to the first index. Windows with k >= w are kept whole.

    Why not the authors' shape (a gather per window batch, then a normalised copy): those
    three copies of every embedding were half of Stage I. Here the norms are taken once, the
    Gram matrix of each group of equal-size windows is one batched matmul on a strided view
    of the embeddings (one gather only where windows are not equally spaced runs), and the
    windows of all sizes share one loop whose length is the largest count, not the sum.
    The distances may differ from the authors' in the last bits (the Gram matrix scaled by
    inverse norms, not a product of normalised copies); the kept sets equal those of their
    shape on every test input and at real width (tests/test_stage1.py, `bench stage1`)."""
    S = embeds.shape[0]
    dev = embeds.device
    keep = torch.zeros(S, dtype=torch.bool, device=dev)
    f = embeds if embeds.dtype == torch.float32 else embeds.float()  # fp32 distances: one cast at most
    inv = 1.0 / (torch.linalg.vector_norm(f, dim=-1) + 1e-8)
    # windows to select in: (rows (B, w), weights (B, w) | None, k) per group of equal (w, k)
    groups: dict[tuple[int, int, int], list[int]] = {}
    positions = [t.positions.to(dev) for t in tilings]
    for t, tiling in enumerate(tilings):
        start = 0
        for w, k in zip(tiling.sizes, tiling.counts, strict=True):
            if k >= w:
                keep[positions[t][start:start + w]] = True
            elif k > 0:
                groups.setdefault((t, w, k), []).append(start)
            start += w
    if not groups:
        return keep
    n_max = max(w for _, w, _ in groups)
    k_all: list[int] = []
    blocks: list[Tensor] = []  # (B, n_max, n_max) distances, padding rows +inf
    members: list[Tensor] = []  # (B, n_max) rows of embeds, -1 in padding
    for (t, w, k), starts in groups.items():
        tiling = tilings[t]
        local = torch.tensor(starts, device=dev)[:, None] + torch.arange(w, device=dev)
        rows = positions[t][local]
        V = _window_rows(f, rows)
        r = inv[rows]
        dist = torch.bmm(V, V.transpose(1, 2)).mul_(r[:, :, None]).mul_(r[:, None, :]).neg_().add_(1.0)
        if tiling.weights is not None:
            dist.mul_((tiling.weights.to(dev)[local].float() * 1e6)[:, None, :])
        if w < n_max:
            dist = F.pad(dist, (0, n_max - w, 0, n_max - w), value=torch.inf)
            rows = F.pad(rows, (0, n_max - w), value=-1)
        blocks.append(dist)
        members.append(rows)
        k_all += [k] * len(starts)
    D = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
    member = members[0] if len(members) == 1 else torch.cat(members)
    pad = member < 0
    B = D.shape[0]
    k_win = torch.tensor(k_all, device=dev)
    b = torch.arange(B, device=dev)
    # first pick: the column whose second-nearest row (self included) is farthest
    second = torch.topk(D, k=2, dim=1, largest=False).values[:, 1, :].masked_fill_(pad, -torch.inf)
    s = second.argmax(dim=-1)
    picks = [s]
    m = D[b, s].masked_fill_(pad, -torch.inf)
    m[b, s] = -1.0
    for _ in range(1, max(k_all)):  # one pass per pick, every window at once
        s = m.argmax(dim=-1)
        picks.append(s)
        m = torch.minimum(m, D[b, s])
        m[b, s] = -1.0
    picked = torch.stack(picks, dim=1)  # (B, k_max); window b uses its first k_win[b]
    used = torch.arange(picked.shape[1], device=dev) < k_win[:, None]
    keep[member.gather(1, picked)[used]] = True
    return keep


# -- the official Stage I: the authors' max-min, bit for bit ------------------------------
def authors_maxmin_batch(feats: Tensor, weights: Tensor | None, k: int) -> Tensor:
    """Indices (B, k), ascending, of the greedy max-min subset of each of B equal windows
    (feats (B, N, D)): the authors' order of operations (a normalised fp32 copy, one pass per pick), which
    profile=official keeps bit for bit."""
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


def authors_maxmin_windows(feats: Tensor, weights: Tensor | None, sizes: list[int], counts: list[int]) -> Tensor:
    """Keep mask (N,) over one modality's tokens tiled into windows of `sizes`: the
    authors' order of operations (windows batched by equal (w, k), a gather per batch)."""
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
        picked = authors_maxmin_batch(feats[idx], weights[idx] if weights is not None else None, k)
        keep[idx.gather(1, picked).flatten()] = True
    return keep


def authors_stage1(embeds: Tensor, tiles: list[Tiling]) -> Tensor:
    """Keep mask (S,) of the official SEATS Stage I: per modality a gather of its rows, then
    `authors_maxmin_windows`. The product path (methods/seats.py)."""
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    for t in tiles:
        keep[t.positions[authors_maxmin_windows(embeds[t.positions], t.weights, t.sizes, t.counts)]] = True
    return keep
