"""FastVID (audio-intact): dynamic segmentation, salient tokens, density-based merging.

Pre-LLM on the post-merger video tokens; a frame is one temporal grid. Hyperparameters
follow the paper (B.2): c=8, tau=0.9, d=0.4, p=4, alpha=0.6.

1. DySeg: cosine similarity of consecutive frame features (mean of a frame's tokens); cut
   at the c-1 lowest values and at every value below tau.
2. Budgets: round(R_v * N_v) split exactly over frames (k_f); each frame's k_f is
   int(d * k_f) contextual + the rest salient.
3. Salient tokens: per frame, the top tokens by the attention they received in the last
   vision block (EncoderSignals.video_attn; the reference uses a pseudo-CLS query).
4. Anchor frames: every p-th frame counted from the end of its segment; each carries the
   contextual budget of the p frames it stands for (capped by its non-salient tokens; the
   overflow returns to those frames as salient tokens, so totals stay exact). Contextual
   tokens: DPC-kNN over the anchor frame's non-salient tokens (density from the 4 nearest
   neighbours under cdist / sqrt(D) plus 1e-6 * seeded noise; score = density x distance to
   the nearest denser token).
5. DTM: every other token of the segment goes to its most cosine-similar contextual token;
   that token becomes w * itself + (1 - w) * mean(assigned), w = max(1 / (count + 1), alpha).

With R_a < 1 audio is dropped by a seeded uniform draw. pre_llm returns
(keep_mask, replacement_embeds).
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig
from ..layout import TEXT
from ..select.merge import cosine_matrix, cosine_rows, dpc_knn_scores, group_topk, merge_assigned
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, audio_rest, parse_budget, signal, split_exact, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"c", "tau", "d", "p", "alpha", "seed", "knn"}


def dyseg(frame_feats: torch.Tensor, c: int, tau: float) -> torch.Tensor:
    """(F,) segment id of each frame: cuts at the c-1 least similar transitions and at every
    transition with cosine similarity below tau."""
    F_ = frame_feats.shape[0]
    seg = torch.zeros(F_, dtype=torch.long, device=frame_feats.device)
    if F_ < 2:
        return seg
    sim = cosine_rows(frame_feats[:-1], frame_feats[1:])
    cut = sim < tau
    n_low = min(max(c - 1, 0), F_ - 1)
    if n_low:
        cut[torch.topk(sim, n_low, largest=False).indices] = True
    seg[1:] = torch.cumsum(cut.to(torch.long), 0)
    return seg


def stprune_counts(k: torch.Tensor, sizes: torch.Tensor, seg: torch.Tensor, d: float, p: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(salient, contextual, is_anchor) per frame; salient + contextual sums to k exactly."""
    F_ = k.numel()
    dev = k.device
    ctx = torch.floor(k.double() * d + 1e-9).long()
    sal = k - ctx
    counts = torch.bincount(seg, minlength=int(seg.max()) + 1)
    start = torch.cumsum(counts, 0) - counts
    j = torch.arange(F_, device=dev) - start[seg]
    from_end = counts[seg] - 1 - j
    anchor = from_end % p == 0
    _, block = torch.unique(seg * (F_ + 1) + from_end // p, return_inverse=True)
    B = int(block.max()) + 1
    carry = torch.zeros(B, dtype=torch.long, device=dev).scatter_add_(0, block, ctx)
    a_idx = torch.zeros(B, dtype=torch.long, device=dev)
    a_idx[block[anchor]] = torch.nonzero(anchor).flatten()
    give = torch.minimum(carry, sizes[a_idx] - sal[a_idx])
    overflow = carry - give
    # overflow goes back, in frame order, to the non-anchor frames of the block as salient tokens
    donor = torch.where(anchor, torch.zeros_like(ctx), ctx)
    csum = torch.cumsum(donor, 0) - donor
    block_first = torch.full((B,), F_, dtype=torch.long, device=dev).scatter_reduce_(
        0, block, torch.arange(F_, device=dev), reduce="amin")
    before = csum - csum[block_first[block]]
    extra = torch.minimum((overflow[block] - before).clamp_min(0), donor)
    context = torch.where(anchor, give[block], torch.zeros_like(ctx))
    salient = torch.where(anchor, sal, sal + extra)
    assert int((salient + context).sum()) == int(k.sum())
    return salient, context, anchor


class FastVID(Method):
    name = "fastvid"
    needs_encoder_signals = True

    def __init__(self, budget: Budget, c: int = 8, tau: float = 0.9, d: float = 0.4, p: int = 4,
                 alpha: float = 0.6, knn: int = 4, seed: int = 0, profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)  # no rule differs (docs/profiles.md)
        self.budget = budget
        self.c, self.tau, self.d, self.p, self.alpha, self.knn, self.seed = c, tau, d, p, alpha, knn, int(seed)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "c": self.c,
                "tau": self.tau, "d": self.d, "p": self.p, "alpha": self.alpha, "knn": self.knn}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay, e = ctx.layout, ctx.embeds
        out = e.clone()
        keep = (lay.modality == TEXT) | audio_rest(lay, self.budget, self.seed)
        fm, fv = lay.frame_matrix()
        if fm.numel() == 0:
            return PreLLMResult(keep, out)
        idx = fm.clamp_min(0)
        sizes = fv.sum(1)
        feats = e[idx].float()
        frame_feat = (feats * fv[..., None]).sum(1) / sizes.clamp_min(1)[:, None]
        seg = dyseg(frame_feat, self.c, self.tau)
        k = split_exact(sizes, target(self.budget.R_v, int(sizes.sum())))
        n_sal, n_ctx, anchor = stprune_counts(k, sizes, seg, self.d, self.p)
        attn = signal(ctx.signals, "video_attn", self.name, ctx.sample).to(e.device)
        salient = group_topk(attn[idx], n_sal, fv)
        context = torch.zeros_like(salient)
        a = torch.nonzero(anchor & (n_ctx > 0)).flatten()
        if a.numel():
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            noise = 1e-6 * torch.rand(a.numel(), fm.shape[1], generator=gen).to(e.device)
            cand = fv[a] & ~salient[a]
            score = dpc_knn_scores(feats[a], cand, self.knn, "euclidean", noise)
            context[a] = group_topk(score, n_ctx[a], cand)
        kept = salient | context
        keep[fm[kept]] = True
        # DTM: per segment, merge every dropped token into its most similar contextual token
        tok_seg = seg[:, None].expand_as(fm)
        for s in torch.unique(seg[anchor & (n_ctx > 0)]).tolist():
            in_seg = fv & (tok_seg == s)
            tgt = fm[context & in_seg]
            src = fm[in_seg & ~kept]
            if tgt.numel() == 0 or src.numel() == 0:
                continue
            row = torch.cat([tgt, src])
            f = e[row].float()[None]
            sim = cosine_matrix(f[0, len(tgt):], f[0, :len(tgt)])  # (src, tgt)
            assign = torch.full((1, row.numel()), -1, dtype=torch.long, device=e.device)
            assign[0, len(tgt):] = sim.argmax(dim=1)
            merged = merge_assigned(f, assign, "fastvid", self.alpha)
            out[tgt] = merged[0, :len(tgt)].to(out.dtype)
        return PreLLMResult(keep, out)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("fastvid", options, OPTIONS)
    return FastVID(parse_budget(opts, cfg, "audio_intact"), c=opts.integer("c", 8, lo=1),
                   tau=opts.number("tau", 0.9, lo=-1.0, hi=1.0), d=opts.number("d", 0.4, lo=0.0, hi=1.0),
                   p=opts.integer("p", 4, lo=1), alpha=opts.number("alpha", 0.6, lo=0.0, hi=1.0),
                   knn=opts.integer("knn", 4, lo=1), seed=opts.integer("seed", 0), profile=opts.profile())
