"""Greedy max-min diversity selection (DivPrune), optionally attention-weighted (winDivPrune).

Stage I of SEATS (Sec. 4.1) keeps, per 2-s window and modality, a diverse yet salient subset
of the encoder tokens. All windows are processed at once on padded (W, n, d) tensors; the
only Python loop runs over the greedy steps (max k), never over tokens or windows.
The official profile's Stage I (the authors' tiling, unclamped distances, first pick by the
second-nearest row) is `official_stage1`: the authors' distances bit for bit (the same
expression on the same (B, w, d) shapes, so the same fp32 values) from one copy of the
embeddings instead of their three, and one greedy loop for all windows instead of one per
window size (0.53x the time on one CPU thread, bench stage1). `authors_stage1`, their order
of operations, is its oracle. A Gram matrix of raw rows scaled by inverse norms (no copy at
all) rounds differently, and those last bits changed kept tokens at near-ties on a trained
model.
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


# -- Stage I of the official profile: the authors' tiling and max-min, one copy ------------
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


@dataclass(frozen=True)
class WindowGroup:
    """The Stage I windows of one tiling that share (w, k): `rows` (B, w) of the embeddings,
    `dist` (B, w, w) their distance matrices (row = selected, column = candidate), `first`
    (B,) each window's first pick."""

    rows: Tensor
    k: int
    dist: Tensor
    first: Tensor


def stage1_groups(embeds: Tensor, tilings: list[Tiling]) -> tuple[Tensor, Tensor, list[WindowGroup]]:
    """(keep mask (S,) of the windows kept whole (k >= w), D (R, n): the distance rows of
    every other window stacked, n the largest window, +inf beyond a window's own columns,
    those windows grouped by tiling and (w, k)). The distances are the authors' bit for bit.

    The authors gather each modality's rows, then each window batch's rows, then take a
    normalised fp32 copy: three copies of every embedding. Here each group's windows are a
    strided view of the embeddings (a gather only where they are not equally spaced runs),
    cast (bf16) and normalised by the authors' expression on the same (B, w, d) shape, so
    `bmm` meets the same values in the same contiguous layout as theirs: one copy. The Gram
    matrix of raw rows scaled by inverse norms would skip even that copy, but it rounds
    differently, and the last bits changed kept tokens at near-ties on a trained model."""
    dev = embeds.device
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=dev)
    todo: list[tuple[Tiling, Tensor, int, int, list[int]]] = []  # (tiling, positions, w, k, starts)
    for tiling in tilings:
        pos = tiling.positions.to(dev)
        by_size: dict[tuple[int, int], list[int]] = {}
        start = 0
        for w, k in zip(tiling.sizes, tiling.counts, strict=True):
            if k >= w:
                keep[pos[start:start + w]] = True
            elif k > 0:
                by_size.setdefault((w, k), []).append(start)
            start += w
        todo += [(tiling, pos, w, k, starts) for (w, k), starts in by_size.items()]
    todo.sort(key=lambda g: -g[2])  # the widest first: the first block of D is a contiguous view
    n = todo[0][2] if todo else 0
    D = torch.empty(sum(len(g[4]) * g[2] for g in todo), n, device=dev)
    d = embeds.shape[-1]
    # one buffer for every group's normalised features in turn (each is dead after its bmm)
    work = torch.empty(max((len(g[4]) * g[2] * d for g in todo), default=0), device=dev)
    groups: list[WindowGroup] = []
    r0 = 0
    for tiling, pos, w, k, starts in todo:
        B = len(starts)
        local = torch.tensor(starts, device=dev)[:, None] + torch.arange(w, device=dev)
        rows = pos[local]
        v = _window_rows(embeds, rows)
        f = work[:B * w * d].view(B, w, d)
        if v.dtype == torch.float32 and dev.type == "cpu":  # their f / (|f| + eps) into the buffer
            torch.div(v, v.norm(p=2, dim=-1, keepdim=True) + 1e-8, out=f)
        else:  # their .float() cast (a copy even in fp32 off the CPU: the norm then reads the
            # authors' contiguous layout, as a GPU reduction's order may depend on it), then
            # their division in place: the same values
            f.copy_(v)
            f.div_(f.norm(p=2, dim=-1, keepdim=True) + 1e-8)
        block = D[r0:r0 + B * w].view(B, w, n)
        if r0 == 0 and w == n:  # out at a fresh tensor's alignment (cuBLAS picks kernels by it)
            dist = torch.bmm(f, f.transpose(-1, -2), out=block)
        else:
            block[:, :, w:] = torch.inf
            dist = block[:, :, :w]
            dist.copy_(torch.bmm(f, f.transpose(-1, -2)))
        dist.neg_().add_(1.0)  # 1 - x: the same rounding as the authors' rsub
        if tiling.weights is not None:
            dist.mul_((tiling.weights.to(dev)[local].float() * 1e6).unsqueeze(1))
        # the first pick: the column whose second-nearest row (self included) is farthest
        first = torch.topk(dist, k=2, dim=1, largest=False).values[:, 1, :].argmax(dim=-1)
        groups.append(WindowGroup(rows, k, dist, first))
        r0 += B * w
    return keep, D, groups


def official_stage1(embeds: Tensor, tilings: list[Tiling]) -> Tensor:
    """Keep mask (S,) over the rows of `embeds` (S, d): the authors' greedy max-min subset of
    every Stage I window of every tiling (the official profile's Stage I, methods/seats.py).

    Distances from `stage1_groups` (the authors' values bit for bit); with weights column j
    is scaled by a_j * 1e6 (the authors' constant). First pick: argmax over j of the
    second-smallest D[i, j] over i (the smallest is usually the self-distance); then
    repeatedly the argmax of the running min, picked ones set to -1; ties go to the first
    index. Windows with k >= w are kept whole. Unlike the authors (one greedy loop per
    (w, k) batch) every window of every modality shares one loop as long as the largest k,
    its candidates padded with -inf (argmax and minimum are exact, so padding changes no
    pick); `authors_stage1` is the oracle in the tests."""
    keep, D, groups = stage1_groups(embeds, tilings)
    if not groups:
        return keep
    dev = embeds.device
    n = D.shape[1]
    B = sum(g.rows.shape[0] for g in groups)
    member = torch.full((B, n), -1, dtype=torch.long, device=dev)  # rows of embeds, -1 in padding
    base: list[Tensor] = []  # each window's first row in D
    k_all: list[int] = []
    b0 = r0 = 0
    for g in groups:
        nb, w = g.rows.shape
        member[b0:b0 + nb, :w] = g.rows
        base.append(r0 + w * torch.arange(nb, device=dev))
        k_all += [g.k] * nb
        b0, r0 = b0 + nb, r0 + nb * w
    row0 = torch.cat(base)
    pad = member < 0
    b = torch.arange(B, device=dev)
    s = torch.cat([g.first for g in groups])
    picks = [s]
    m = D.index_select(0, row0 + s).masked_fill_(pad, -torch.inf)
    m[b, s] = -1.0
    for _ in range(1, max(k_all)):  # one pass per pick, every window at once
        s = m.argmax(dim=-1)
        picks.append(s)
        m = torch.minimum(m, D.index_select(0, row0 + s))
        m[b, s] = -1.0
    picked = torch.stack(picks, dim=1)  # (B, k_max); window b uses its first k_all[b]
    used = torch.arange(picked.shape[1], device=dev) < torch.tensor(k_all, device=dev)[:, None]
    keep[member.gather(1, picked)[used]] = True
    return keep


# -- the authors' order of operations: the oracle of official_stage1 (tests, bench stage1) --
def authors_distances(feats: Tensor, weights: Tensor | None) -> Tensor:
    """(B, N, N) distances of B equal windows (feats (B, N, D)) in the authors' order of
    operations: a fp32 copy, a normalised copy, 1 - bmm, columns scaled by weights * 1e6."""
    f = feats.float()
    f = f / (f.norm(p=2, dim=-1, keepdim=True) + 1e-8)
    dist = 1.0 - torch.bmm(f, f.transpose(-1, -2))
    if weights is not None:
        dist = dist * (weights.float() * 1e6).unsqueeze(1)
    return dist


def authors_maxmin_batch(feats: Tensor, weights: Tensor | None, k: int) -> Tensor:
    """Indices (B, k), ascending, of the greedy max-min subset of each of B equal windows
    (feats (B, N, D)): the authors' order of operations (a normalised fp32 copy, one pass per pick), which
    profile=official keeps bit for bit."""
    B, N, _ = feats.shape
    if k >= N:
        return torch.arange(N, device=feats.device).expand(B, N)
    dist = authors_distances(feats, weights)
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
    `authors_maxmin_windows`. The oracle of `official_stage1` (the product path)."""
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    for t in tiles:
        keep[t.positions[authors_maxmin_windows(embeds[t.positions], t.weights, t.sizes, t.counts)]] = True
    return keep
