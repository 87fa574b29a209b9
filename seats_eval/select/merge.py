"""Pure tensor helpers for the merging / clustering baselines (VisionZip, FastVID, OmniZip, DyCoke).

Everything works on padded groups: feats (G, n, D), a valid mask (G, n) and per-group counts
(G,). No model imports; the only Python loops run over a handful of groups' chunks, never
over tokens.

- `group_topk`: per-group top-k by score with a different k per group (ties: lower index).
- `evenly_spaced`: VisionZip/OmniZip contextual anchors, every (m // c)-th candidate in
  index order, the first c of them.
- `assign_nearest`: each source token's most cosine-similar target in its group.
- `merge_assigned`: write merged vectors into the targets' slots (rules "sum" = VisionZip's
  target + mean(assigned), "mean" = plain average, "fastvid" = w*target + (1-w)*mean with
  w = max(1/(count+1), alpha)).
- `dpc_knn_scores`: density-peaks clustering scores rho * delta (FastVID, OmniZip).
- `cosine_rows` / `cosine_matrix`: cosine similarity of aligned rows / of all pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seats_eval.errors import ConfigError

MERGE_RULES = ("sum", "mean", "fastvid")


def group_topk(scores: Tensor, k: Tensor, valid: Tensor) -> Tensor:
    """(G, n) mask of the k[g] valid entries of each row with the highest score.

    Ties go to the lower index (two stable sorts); k[g] above the valid count keeps all
    valid entries.
    """
    s = scores.to(torch.float32)
    s = torch.where(valid, torch.nan_to_num(s, nan=-torch.inf), torch.full_like(s, -torch.inf))
    order = torch.sort(s, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(s.shape[1], device=s.device).expand_as(order).contiguous())
    k = torch.as_tensor(k, device=s.device).to(torch.long).reshape(-1, 1)
    return valid & (rank < k)


def evenly_spaced(candidates: Tensor, count: Tensor) -> Tensor:
    """(G, n) mask: among each row's candidates in index order, every (m // c)-th one,
    the first c of them (m = number of candidates, c = count[g], c <= m)."""
    c = torch.as_tensor(count, device=candidates.device).to(torch.long).reshape(-1, 1)
    m = candidates.sum(dim=1, keepdim=True)
    if bool((c > m).any()):
        raise ConfigError("evenly_spaced: more anchors requested than candidates")
    rank = torch.cumsum(candidates.to(torch.long), dim=1) - 1
    step = (m // c.clamp_min(1)).clamp_min(1)
    return candidates & (c > 0) & (rank % step == 0) & (rank // step < c)


def _normalise(feats: Tensor) -> Tensor:
    return F.normalize(feats.to(torch.float32), dim=-1, eps=1e-8)


def assign_nearest(feats: Tensor, source: Tensor, target: Tensor) -> Tensor:
    """(G, n) long: for each source token the index (within its row) of the target with the
    highest cosine similarity; -1 where not a source or the row has no target."""
    f = _normalise(feats)
    sim = f @ f.transpose(-1, -2)  # (G, n, n), row = source, column = target
    sim = sim.masked_fill(~target[:, None, :], -torch.inf)
    best = sim.argmax(dim=-1)
    has_target = target.any(dim=1, keepdim=True)
    return torch.where(source & has_target, best, torch.full_like(best, -1))


def merge_assigned(feats: Tensor, assign: Tensor, rule: str = "sum", alpha: float = 0.6,
                   weights: Tensor | None = None) -> Tensor:
    """New features (G, n, D) fp32: each target absorbs the tokens assigned to it.

    assign (G, n): target index per token, -1 for tokens not merged. Targets with nothing
    assigned and all non-target tokens keep their features unchanged.
    rule "sum": target + mean(assigned) (VisionZip's contextual tokens);
    "mean": (target + sum(assigned)) / (1 + count);
    "fastvid": w * target + (1 - w) * mean(assigned), w = max(1 / (count + 1), alpha);
    "weighted" (needs `weights`, the per-token merge weight): (target + sum(w_i a_i)) /
    (1 + sum(w_i)) (OmniZip's audio anchors).
    """
    if rule not in MERGE_RULES + ("weighted",):
        raise ConfigError(f"merge rule {rule!r}; allowed: {', '.join(MERGE_RULES)}")
    f = feats.to(torch.float32)
    G, n, D = f.shape
    src = assign >= 0
    w = torch.ones(G, n, device=f.device) if weights is None else weights.to(torch.float32)
    w = torch.where(src, w, torch.zeros_like(w))
    idx = assign.clamp_min(0)
    sums = torch.zeros_like(f).scatter_add_(1, idx[..., None].expand(G, n, D), f * w[..., None])
    wsum = torch.zeros(G, n, device=f.device).scatter_add_(1, idx, w)
    count = torch.zeros(G, n, device=f.device).scatter_add_(1, idx, src.to(torch.float32))
    got = count > 0
    if rule == "weighted":
        new = (f + sums) / (1.0 + wsum[..., None])
    else:
        mean = sums / count.clamp_min(1)[..., None]
        if rule == "sum":
            new = f + mean
        elif rule == "mean":
            new = (f + sums) / (1.0 + count[..., None])
        else:
            wt = torch.clamp(1.0 / (count + 1.0), min=float(alpha))[..., None]
            new = wt * f + (1.0 - wt) * mean
    return torch.where(got[..., None], new, f)


def dpc_knn_scores(feats: Tensor, valid: Tensor, k: int, metric: str = "euclidean",
                   noise: Tensor | None = None) -> Tensor:
    """Density-peaks scores (G, n) = rho * delta over each row's valid tokens (-inf elsewhere).

    metric "euclidean": d = ||x_i - x_j|| / sqrt(D), rho = exp(-mean of the k smallest d^2)
    (FastVID); "cosine": d = 1 - cos, rho = exp(-mean of the k smallest d) (OmniZip). The k
    nearest include the token itself (distance 0), as in the reference code. delta = the
    distance to the nearest token of higher density (the row's largest distance for the
    densest token). `noise` (G, n) is added to rho to break ties (FastVID adds 1e-6 * rand).
    """
    f = feats.to(torch.float32)
    G, n, D = f.shape
    if metric == "euclidean":
        dist = torch.cdist(f, f) / (D**0.5)
    elif metric == "cosine":
        u = _normalise(f)
        dist = (1.0 - u @ u.transpose(-1, -2)).clamp_min(0.0)
    else:
        raise ConfigError(f"dpc metric {metric!r}; allowed: euclidean, cosine")
    pair = valid[:, :, None] & valid[:, None, :]
    far = torch.where(pair, dist, torch.full_like(dist, torch.inf))
    kk = max(1, min(int(k), n))
    near = torch.topk(far, kk, dim=-1, largest=False).values
    near = torch.where(near.isfinite(), near, torch.zeros_like(near))
    cnt = valid.sum(dim=1, keepdim=True).clamp(min=1, max=kk).to(torch.float32)
    stat = (near**2 if metric == "euclidean" else near).sum(-1) / cnt
    rho = torch.exp(-stat)
    if noise is not None:
        rho = rho + noise.to(rho)
    dmax = torch.where(pair, dist, torch.zeros_like(dist)).flatten(1).amax(dim=1)[:, None]
    denser = pair & (rho[:, None, :] > rho[:, :, None])  # column j denser than row i
    delta = torch.where(denser, dist, torch.full_like(dist, torch.inf)).amin(dim=-1)
    delta = torch.where(delta.isfinite(), delta, dmax.expand_as(delta))
    return torch.where(valid, rho * delta, torch.full_like(rho, -torch.inf))


def cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise cosine similarity (..., M, D) x (..., N, D) -> (..., M, N) fp32 (one matmul)."""
    return _normalise(a) @ _normalise(b).transpose(-1, -2)


def cosine_rows(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of aligned rows: (..., D), (..., D) -> (...) fp32."""
    return (_normalise(a) * _normalise(b)).sum(-1)
