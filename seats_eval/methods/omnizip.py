"""OmniZip (both-selected): audio-guided video budgets + interleaved spatio-temporal compression.

Pre-LLM, following the latest official code (per-window audio encoder attention, as the
paper states) with exact budgets:

Audio (whole clip): round(R_a * N_a) tokens kept, of which round(0.05 * N_a) are merged
contextual anchors (counted toward R_a, as the paper does) and the rest dominant tokens,
the top ones by the attention they received in the last audio-encoder layer
(EncoderSignals.audio_attn, computed within the encoder's 2-s chunks). Anchors are evenly
spaced among the non-dominant tokens; every other token goes to its most similar anchor
(audio cosine); each anchor absorbs at most g=3 of them, those most similar to any video
token, as (anchor + sum w_i a_i) / (1 + sum w_i) with w = softmax of those similarities;
the rest are dropped.

Video: each window's audio retention ret_t (kept + anchors over its audio tokens) gives a
keep weight clamp(0.25 + 0.4 * ret_t, 0.25, 0.65) (the official prune ratio
clamp(0.75 - 0.4 * ret, 0.35, 0.75)); windows without audio use R_v. round(R_v * N_v) is
split exactly over frames (temporal grids) in proportion to weight x size, with a floor of
25% per frame (the "first frame of each 4-frame group": the official 0.75 clamp, which
also makes R_v < 25% unreachable: it fails at load; at R=25 the paper sets R_v=R_a=0.25).
Within a window the first grid keeps its DPC-kNN cluster centres (cosine distance, k=5,
score = exp(-mean kNN distance) x distance to the nearest denser token), the second grid
the tokens least similar to the same position in the first (interleaved spatial/temporal).

pre_llm returns (keep_mask, replacement_embeds): only the audio anchors are rewritten.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..budgets import Budget, round_count
from ..config import BackboneConfig
from ..errors import ConfigError
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout
from ..select.merge import (
    cosine_matrix,
    cosine_rows,
    dpc_knn_scores,
    evenly_spaced,
    group_topk,
    merge_assigned,
)
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, parse_budget, signal, split_exact, target
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"g", "context", "knn", "chunk"}
MIN_RV = 0.25


def video_keep_weight(ret: torch.Tensor) -> torch.Tensor:
    """Keep ratio of a window's video from its audio retention (1 - official prune ratio)."""
    return (0.25 + 0.4 * ret).clamp(0.25, 0.65)


def audio_select(ctx: PreLLMContext, k: int, out: torch.Tensor, *, g: int = 3, context: float = 0.05,
                 chunk: int = 1024) -> torch.Tensor:
    """Keep mask (S,) of k audio tokens (dominant + merged anchors); anchors written into `out`."""
    lay, e = ctx.layout, ctx.embeds
    keep = torch.zeros(lay.length, dtype=torch.bool, device=e.device)
    pos = torch.nonzero(lay.modality == AUDIO).flatten()
    n = pos.numel()
    if n == 0 or k >= n:
        keep[pos] = True
        return keep
    if k <= 0:
        return keep
    n_ctx = min(max(round_count(context * n), 1), k - 1) if (k >= 2 and context > 0) else 0
    attn = signal(ctx.signals, "audio_attn", "omnizip", ctx.sample).to(e.device)[pos]
    ones = torch.ones(1, n, dtype=torch.bool, device=e.device)
    dominant = group_topk(attn[None], torch.tensor([k - n_ctx], device=e.device), ones)[0]
    anchors = evenly_spaced((~dominant)[None], torch.tensor([n_ctx], device=e.device))[0]
    keep[pos[dominant | anchors]] = True
    others = torch.nonzero(~dominant & ~anchors).flatten()
    a_idx = torch.nonzero(anchors).flatten()
    if others.numel() == 0 or a_idx.numel() == 0 or g <= 0:
        return keep
    feats = e[pos].float()
    nearest = cosine_matrix(feats[others], feats[a_idx]).argmax(dim=1)  # anchor rank per other token
    # cross-modal score: the highest cosine to any video token (chunked over audio)
    vid = e[lay.modality == VIDEO]
    if vid.numel():
        vid_n = F.normalize(vid.float(), dim=-1, eps=1e-8)
        score = torch.cat([(F.normalize(feats[others[s:s + chunk]], dim=-1, eps=1e-8) @ vid_n.T).amax(1)
                           for s in range(0, others.numel(), chunk)])
    else:
        score = torch.zeros(others.numel(), device=e.device)
    # each anchor takes its g best assignees (rank by score within anchor; ties: lower index)
    order = torch.sort(score, descending=True, stable=True).indices
    order = order[torch.sort(nearest[order], stable=True).indices]
    grp = nearest[order]
    counts = torch.bincount(grp, minlength=a_idx.numel())
    rank = torch.arange(order.numel(), device=e.device) - (torch.cumsum(counts, 0) - counts)[grp]
    take = torch.zeros(others.numel(), dtype=torch.bool, device=e.device)
    take[order[rank < g]] = True
    # softmax weights of the taken assignees within their anchor
    smax = torch.full((a_idx.numel(),), -torch.inf, device=e.device).scatter_reduce(
        0, nearest[take], score[take], reduce="amax")
    w = torch.where(take, torch.exp(score - smax[nearest]), torch.zeros_like(score))
    wsum = torch.zeros(a_idx.numel(), device=e.device).scatter_add_(0, nearest, w)
    w = w / wsum.clamp_min(1e-12)[nearest]
    row = torch.cat([a_idx, others[take]])
    assign = torch.full((1, row.numel()), -1, dtype=torch.long, device=e.device)
    assign[0, a_idx.numel():] = nearest[take]
    wrow = torch.zeros(1, row.numel(), device=e.device)
    wrow[0, a_idx.numel():] = w[take]
    merged = merge_assigned(feats[row][None], assign, "weighted", weights=wrow)
    out[pos[a_idx]] = merged[0, :a_idx.numel()].to(out.dtype)
    return keep


def window_weights(lay: TokenLayout, audio_keep: torch.Tensor, unguided: float) -> torch.Tensor:
    """(W,) keep ratio of each window's video from its audio retention; `unguided` where a
    window has no audio."""
    a = lay.modality == AUDIO
    n_a = lay.window_counts(AUDIO).to(torch.float32)
    kept = torch.zeros(lay.num_windows, device=lay.window.device).scatter_add_(
        0, lay.window[a], audio_keep[a].to(torch.float32))
    guided = video_keep_weight(kept / n_a.clamp_min(1))
    return torch.where(n_a > 0, guided, torch.full_like(guided, unguided))


def video_select(ctx: PreLLMContext, k: int, audio_keep: torch.Tensor, *, knn: int = 5,
                 floor_ratio: float = MIN_RV) -> torch.Tensor:
    """Keep mask (S,) of k video tokens: audio-guided frame budgets, then interleaved
    spatial (DPC-kNN) / temporal (least similar to the previous grid) selection."""
    lay, e = ctx.layout, ctx.embeds
    keep = torch.zeros(lay.length, dtype=torch.bool, device=e.device)
    fm, fv = lay.frame_matrix()
    if fm.numel() == 0 or k <= 0:
        return keep
    sizes = fv.sum(1)
    frame_win = lay.window[fm[:, 0]]
    w = window_weights(lay, audio_keep, k / max(1, int(sizes.sum())))[frame_win]
    floor = torch.floor(floor_ratio * sizes.double() + 1e-9).long()
    if int(floor.sum()) > k:  # a caller's count below the floor (SEATS Stage I): no floor
        floor = torch.zeros_like(floor)
    kf = split_exact(sizes, k, weights=w.double() * sizes, floor=floor)
    idx = fm.clamp_min(0)
    F_ = fm.shape[0]
    first_in_window = torch.ones(F_, dtype=torch.bool, device=e.device)
    first_in_window[1:] = frame_win[1:] != frame_win[:-1]
    score = torch.zeros(fm.shape, dtype=torch.float32, device=e.device)
    sp = torch.nonzero(first_in_window).flatten()
    for s in range(0, sp.numel(), 64):  # spatial: DPC-kNN cluster centres, batched over grids
        b = sp[s:s + 64]
        score[b] = dpc_knn_scores(e[idx[b]], fv[b], knn, "cosine")
    tp = torch.nonzero(~first_in_window).flatten()  # temporal: least similar to the previous grid
    if tp.numel():
        sim = cosine_rows(e[idx[tp]], e[idx[tp - 1]])
        score[tp] = torch.where(fv[tp - 1], -sim, torch.ones_like(sim))
    keep[fm[group_topk(score, kf, fv)]] = True
    return keep


def stage1_select(ctx: PreLLMContext, k_video: int, k_audio: int, out: torch.Tensor | None = None, *,
                  g: int = 3, context: float = 0.05, knn: int = 5, chunk: int = 1024) -> torch.Tensor:
    """OmniZip's selection at given token counts: keep mask (S,) over audio and video (no
    text); merged audio anchors are written into `out` when given (SEATS' stage1=omnizip)."""
    out = ctx.embeds.clone() if out is None else out
    audio_keep = audio_select(ctx, k_audio, out, g=g, context=context, chunk=chunk)
    return audio_keep | video_select(ctx, k_video, audio_keep, knn=knn)


class OmniZip(Method):
    name = "omnizip"
    needs_encoder_signals = True

    def __init__(self, budget: Budget, g: int = 3, context: float = 0.05, knn: int = 5, chunk: int = 1024,
                 profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)  # no rule differs (docs/profiles.md)
        if budget.R_v < MIN_RV - 1e-12:
            raise ConfigError(
                f"omnizip: R_v={budget.R_v:.4f} < {MIN_RV}: the video branch keeps at least 25% of every frame "
                f"(first frame of each 4-frame group), so R={budget.R} (mode {budget.mode}) cannot be reached; "
                "pass R_v and R_a explicitly (the paper runs R=0.25 as R_v=0.25,R_a=0.25)")
        if budget.R_a <= context and budget.R_a < 1.0:
            raise ConfigError(f"omnizip: R_a={budget.R_a:.4f} must exceed the merged contextual share "
                              f"{context} that counts toward it")
        self.budget, self.g, self.context, self.knn, self.chunk = budget, int(g), float(context), int(knn), int(chunk)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode, "g": self.g,
                "context": self.context, "knn": self.knn}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        out = ctx.embeds.clone()
        k_v = target(self.budget.R_v, lay.count(VIDEO))
        k_a = target(self.budget.R_a, lay.count(AUDIO))
        media = stage1_select(ctx, k_v, k_a, out, g=self.g, context=self.context, knn=self.knn, chunk=self.chunk)
        return PreLLMResult((lay.modality == TEXT) | media, out)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("omnizip", options, OPTIONS)
    return OmniZip(parse_budget(opts, cfg, "both"), g=opts.integer("g", 3, lo=0),
                   context=opts.number("context", 0.05, lo=0.0, hi=1.0), knn=opts.integer("knn", 5, lo=1),
                   chunk=opts.integer("chunk", 1024, lo=1), profile=opts.profile())
