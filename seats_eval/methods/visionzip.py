"""VisionZip (audio-intact) and VisionZip-om (both-selected): dominant + contextual tokens.

Pre-LLM, after the merger (the paper applies it after pooling, as FastVID does). Per frame
(one temporal grid) the budget k_f (the exact split of round(R_v * N_v) over frames) is
divided into c_f = round(0.05 * n_f) contextual tokens (at least 1, at most k_f - 1) and
k_f - c_f dominant tokens, i.e. the paper's (R - 0.05) : 0.05:

- dominant: the top tokens by the attention they received in the last encoder layer
  (EncoderSignals.video_attn / audio_attn);
- contextual: c_f anchors evenly spaced (every (m // c_f)-th) among the m remaining tokens
  in index order; every other remaining token is assigned to its most cosine-similar
  anchor (post-merger embeddings: the encoder keys the reference uses are not exposed) and
  the anchor becomes anchor + mean(assigned) (VisionZip's rule, `merge=sum`; `merge=mean`
  averages instead). Anchors keep their own slot and position; they count toward the budget.

VisionZip-om does the same for audio per 2-s window at R_a. VisionZip with R_a < 1 drops
audio by a seeded uniform draw. pre_llm returns (keep_mask, replacement_embeds).
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig
from ..layout import AUDIO, TEXT, VIDEO
from ..select.merge import assign_nearest, evenly_spaced, group_topk, merge_assigned
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import BUDGET_OPTIONS, audio_rest, frame_matrix, parse_budget, signal, split_exact, target
from .options import Options

OPTIONS = BUDGET_OPTIONS | {"context", "merge", "seed", "group_batch"}


def context_counts(k: torch.Tensor, n: torch.Tensor, ratio: float) -> torch.Tensor:
    """Contextual tokens per group: round(ratio * n), >= 1, <= k - 1; 0 when k < 2 or k >= n."""
    c = torch.round(torch.round(ratio * n.double() * 1e9) / 1e9).long()  # budgets.round_count, vectorised
    c = torch.minimum(c.clamp_min(1), (k - 1).clamp_min(0))
    return torch.where((k >= 2) & (k < n), c, torch.zeros_like(c))


def zip_groups(embeds: torch.Tensor, attn: torch.Tensor, mat: torch.Tensor, valid: torch.Tensor, total: int,
               ratio: float, rule: str, out: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Keep mask (S,) of `total` tokens over the groups of `mat`; merged anchors are written
    into `out` (S, D) in place."""
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    if mat.numel() == 0 or total <= 0:
        return keep
    n = valid.sum(1)
    k = split_exact(n, total)
    c = context_counts(k, n, ratio)
    for s in range(0, mat.shape[0], batch):
        m, v, kk, cc = mat[s:s + batch], valid[s:s + batch], k[s:s + batch], c[s:s + batch]
        idx = m.clamp_min(0)
        dominant = group_topk(attn[idx], kk - cc, v)
        rest = v & ~dominant
        anchors = evenly_spaced(rest, cc)
        assign = assign_nearest(embeds[idx], rest & ~anchors, anchors)
        keep[m[dominant | anchors]] = True
        if bool((assign >= 0).any()):
            merged = merge_assigned(embeds[idx], assign, rule)
            out[m[anchors]] = merged[anchors].to(out.dtype)
    return keep


def stage1_select(ctx: PreLLMContext, k_video: int, k_audio: int | None, out: torch.Tensor | None = None, *,
                  context: float = 0.05, merge: str = "sum", batch: int = 64) -> torch.Tensor:
    """VisionZip's selection at given token counts: keep mask (S,) over video (per frame)
    and, unless k_audio is None, audio (per window); text is not included. Merged anchors
    are written into `out` (S, D) when given (SEATS' stage1=visionzip passes counts here)."""
    lay, e = ctx.layout, ctx.embeds
    out = e.clone() if out is None else out
    keep = torch.zeros(lay.length, dtype=torch.bool, device=e.device)
    fm, fv = frame_matrix(lay)
    if fm.numel():
        attn = signal(ctx.signals, "video_attn", "visionzip", ctx.sample).to(e.device)
        keep |= zip_groups(e, attn, fm, fv, k_video, context, merge, out, batch)
    if k_audio is not None:
        am, av = lay.window_matrix(AUDIO)
        if av.any():
            attn = signal(ctx.signals, "audio_attn", "visionzip", ctx.sample).to(e.device)
            keep |= zip_groups(e, attn, am, av, k_audio, context, merge, out, batch)
    return keep


class VisionZip(Method):
    needs_encoder_signals = True

    def __init__(self, name: str, budget: Budget, both: bool, context: float = 0.05, merge: str = "sum",
                 seed: int = 0, group_batch: int = 64) -> None:
        self.name, self.budget, self.both = name, budget, both
        self.context, self.merge, self.seed, self.batch = float(context), merge, int(seed), int(group_batch)

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode,
                "context": self.context, "merge": self.merge}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        lay = ctx.layout
        out = ctx.embeds.clone()
        k_v = target(self.budget.R_v, lay.count(VIDEO))
        k_a = target(self.budget.R_a, lay.count(AUDIO)) if self.both else None
        keep = (lay.modality == TEXT) | stage1_select(ctx, k_v, k_a, out, context=self.context, merge=self.merge,
                                                      batch=self.batch)
        if not self.both:
            keep |= audio_rest(lay, self.budget, self.seed)
        return PreLLMResult(keep, out)


def _build(method_id: str, both: bool, cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options(method_id, options, OPTIONS)
    budget = parse_budget(opts, cfg, "both" if both else "audio_intact")
    return VisionZip(method_id, budget, both, context=opts.number("context", 0.05, lo=0.0, hi=1.0),
                     merge=opts.choice("merge", "sum", ("sum", "mean")), seed=opts.integer("seed", 0),
                     group_batch=opts.integer("group_batch", 64, lo=1))


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("visionzip", False, cfg, options)


def build_om(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("visionzip_om", True, cfg, options)
