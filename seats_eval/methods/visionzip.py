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

`profile=official` (default) counts per group as the authors' code does (groups: one grid
and 50-token audio tiles, YAML `official:`; `visionzip_counts`): dominant =
max(int((R - 0.05) * w), 1), contextual = min(max(round(0.05 * w), 1), w - dominant), so
totals are not exact; the audio-intact VisionZip re-derives (R_v, R_a) per sample from the
Table 7 pair (on Qwen3-Omni from the start its script passes, `SCRIPT_STARTS`: (0.29, 1.0) at
R = 0.35; `audio_intact_reallocate`) and draws leftover audio with a floored count. `paper` keeps
the exact split above. Contextual tokens are assigned by post-merger embeddings under both
profiles (the authors use the encoder's keys: docs/profiles.md).
"""

from __future__ import annotations

from typing import Any

import torch

from ..budgets import Budget
from ..config import BackboneConfig, normalise_name
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout, group_matrix
from ..select.merge import assign_nearest, evenly_spaced, group_topk, merge_assigned
from .base import Method, Plan, PreLLMContext, PreLLMResult
from .common import (
    BUDGET_OPTIONS,
    audio_intact_reallocate,
    audio_rest,
    floor_count,
    intact_start,
    parse_budget,
    random_keep,
    script_pair,
    signal,
    split_exact,
    target,
)
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {"context", "merge", "seed", "group_batch"}
# profile=official on Qwen3-Omni: the audio-intact starts scripts/eval_qwen3_omni_visionzip.sh
# passes (not Table 7's both-selected pairs; it runs no R = 0.10); backbone -> R -> (R_v, R_a)
SCRIPT_STARTS: dict[str, dict[float, tuple[float, float]]] = {
    "qwen3_omni_30b_a3b": {0.35: (0.29, 1.0), 0.25: (0.18, 1.0), 0.15: (0.08, 1.0)},
}


def visionzip_counts(w: int, ratio: float, context: float) -> tuple[int, int]:
    """profile=official: (dominant, contextual) tokens of one VisionZip window of w tokens:
    dominant = min(max(int((ratio - context) * w), 1), w) (0 when ratio <= context),
    contextual = min(max(round(context * w), 1), w - dominant) (0 when context is 0).

    The authors' w is a 0-dim int64 tensor (a window bound's difference), so both products
    are float32 tensors (torch promotes a Python float times an integer tensor to the default
    float dtype): R = 0.12, w = 100 gives 7 dominant there (float32 0.07 * 100 = 7.0000001)
    where float64 gives 6 (6.999...). The products here are made the same way, by torch."""
    wt = torch.tensor(int(w), dtype=torch.long)
    dom_ratio = max(ratio - context, 0.0)
    dominant = min(max(int(dom_ratio * wt), 1), int(w)) if dom_ratio > 0 else 0
    contextual = min(max(int(torch.round(context * wt)), 1), int(w) - dominant) if context > 0 else 0
    return dominant, contextual


def context_counts(k: torch.Tensor, n: torch.Tensor, ratio: float) -> torch.Tensor:
    """Contextual tokens per group: round(ratio * n), >= 1, <= k - 1; 0 when k < 2 or k >= n."""
    c = torch.round(torch.round(ratio * n.double() * 1e9) / 1e9).long()  # budgets.round_count, vectorised
    c = torch.minimum(c.clamp_min(1), (k - 1).clamp_min(0))
    return torch.where((k >= 2) & (k < n), c, torch.zeros_like(c))


def exact_counts(valid: torch.Tensor, total: int, ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """paper: (dominant, contextual) per group from the exact split of `total`."""
    n = valid.sum(1)
    k = split_exact(n, total)
    c = context_counts(k, n, ratio)
    return k - c, c


def official_counts(valid: torch.Tensor, ratio: float, context: float) -> tuple[torch.Tensor, torch.Tensor]:
    """official: (dominant, contextual) per group from the group's own size (no exact total)."""
    pairs = [visionzip_counts(int(w), ratio, context) for w in valid.sum(1).tolist()]
    dev = valid.device
    return (torch.tensor([p[0] for p in pairs], dtype=torch.long, device=dev).reshape(-1),
            torch.tensor([p[1] for p in pairs], dtype=torch.long, device=dev).reshape(-1))


def zip_groups(embeds: torch.Tensor, attn: torch.Tensor, mat: torch.Tensor, valid: torch.Tensor,
               counts: tuple[torch.Tensor, torch.Tensor], rule: str, out: torch.Tensor,
               batch: int = 64) -> torch.Tensor:
    """Keep mask (S,) over the groups of `mat`: counts = (dominant, contextual) per group;
    merged anchors are written into `out` (S, D) in place."""
    keep = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    if mat.numel() == 0:
        return keep
    dom, ctx_n = counts
    for s in range(0, mat.shape[0], batch):
        m, v, dd, cc = mat[s:s + batch], valid[s:s + batch], dom[s:s + batch], ctx_n[s:s + batch]
        idx = m.clamp_min(0)
        dominant = group_topk(attn[idx], dd, v)
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
    fm, fv = lay.frame_matrix()
    if fm.numel() and k_video > 0:
        attn = signal(ctx.signals, "video_attn", "visionzip", ctx.sample).to(e.device)
        keep |= zip_groups(e, attn, fm, fv, exact_counts(fv, k_video, context), merge, out, batch)
    if k_audio is not None and k_audio > 0:
        am, av = lay.window_matrix(AUDIO)
        if av.any():
            attn = signal(ctx.signals, "audio_attn", "visionzip", ctx.sample).to(e.device)
            keep |= zip_groups(e, attn, am, av, exact_counts(av, k_audio, context), merge, out, batch)
    return keep


def tiles(layout: TokenLayout, modality: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, n) positions of `modality` tokens in consecutive tiles of `size` tokens of that
    modality (the authors' groups: their token list cut from 0), valid mask."""
    member = layout.modality == modality
    rank = torch.cumsum(member.long(), 0) - 1
    n = int(member.sum())
    return group_matrix(torch.where(member, rank // size, 0), member, -(-n // size) if n else 0)


class VisionZip(Method):
    needs_encoder_signals = True

    def __init__(self, name: str, budget: Budget, both: bool, context: float = 0.05, merge: str = "sum",
                 seed: int = 0, group_batch: int = 64, profile: str = DEFAULT_PROFILE,
                 start: tuple[float, float] | None = None, cfg: BackboneConfig | None = None) -> None:
        self.name = name
        super().__init__(profile)
        self.budget, self.both = budget, both
        self.context, self.merge, self.seed, self.batch = float(context), merge, int(seed), int(group_batch)
        self.start = start
        self.geometry = cfg.official_geometry if cfg is not None else None
        # the profile's rules, chosen once
        self._select = self._paper
        if self.profile == "official":
            if self.geometry is None:
                raise ValueError(f"{name}: profile=official needs the backbone config (its official geometry)")
            if not both and start is None:
                raise ValueError(f"{name}: profile=official audio-intact needs its start pair")
            self._select = self._official
            self.signal_audio_window = self.geometry.signal_audio_frames

    def describe(self) -> dict[str, Any]:
        b = self.budget
        return {"method": self.name, "R": b.R, "R_v": b.R_v, "R_a": b.R_a, "mode": b.mode,
                "context": self.context, "merge": self.merge, "profile": self.profile}

    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        return self._select(ctx)

    def _paper(self, ctx: PreLLMContext) -> PreLLMResult:
        """The text's VisionZip(-om): the exact split of round(R_m N_m) over frames / windows."""
        lay = ctx.layout
        out = ctx.embeds.clone()
        k_v = target(self.budget.R_v, lay.count(VIDEO))
        k_a = target(self.budget.R_a, lay.count(AUDIO)) if self.both else None
        keep = (lay.modality == TEXT) | stage1_select(ctx, k_v, k_a, out, context=self.context, merge=self.merge,
                                                      batch=self.batch)
        if not self.both:
            keep |= audio_rest(lay, self.budget, self.seed)
        return PreLLMResult(keep, out)

    def _official(self, ctx: PreLLMContext) -> PreLLMResult:
        """The authors' VisionZip(-om): per grid and 50-token audio tile, their counts."""
        lay, e = ctx.layout, ctx.embeds
        out = e.clone()
        _, n_v, n_a = lay.counts()
        r_v, r_a = self.budget.R_v, self.budget.R_a
        if not self.both:
            r_v, r_a = audio_intact_reallocate(*self.start, n_v, n_a)  # type: ignore[misc]
        keep = lay.modality == TEXT
        if r_v >= 1.0 and r_a >= 1.0:
            return PreLLMResult()  # the authors' code runs only when a ratio is below 1
        g = self.geometry
        assert g is not None  # checked in __init__
        groups = [("video_attn", r_v, tiles(lay, VIDEO, g.visionzip_video_grids * lay.tokens_per_grid))]
        if self.both:
            groups.append(("audio_attn", r_a, tiles(lay, AUDIO, g.visionzip_audio_tokens)))
        for sig, ratio, (mat, valid) in groups:
            if mat.numel() == 0:
                continue
            attn = signal(ctx.signals, sig, self.name, ctx.sample).to(e.device)
            keep |= zip_groups(e, attn, mat, valid, official_counts(valid, ratio, self.context), self.merge,
                               out, self.batch)
        if not self.both:
            a = lay.modality == AUDIO
            keep |= a if r_a >= 1.0 else random_keep(lay, AUDIO, floor_count(r_a, n_a), self.seed)
        return PreLLMResult(keep, out)


def _build(method_id: str, both: bool, cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options(method_id, options, OPTIONS)
    budget = parse_budget(opts, cfg, "both" if both else "audio_intact")
    profile = opts.profile()
    start = None if both else intact_start(opts, cfg, budget)
    pair = script_pair(SCRIPT_STARTS, normalise_name(cfg.name), budget.R)
    if start is not None and profile == "official" and pair is not None and "R_v" not in opts:
        start = pair  # the audio-intact start the authors' Qwen3 script passes
    return VisionZip(method_id, budget, both, context=opts.number("context", 0.05, lo=0.0, hi=1.0),
                     merge=opts.choice("merge", "sum", ("sum", "mean")), seed=opts.integer("seed", 0),
                     group_batch=opts.integer("group_batch", 64, lo=1), profile=profile,
                     start=start, cfg=cfg)


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("visionzip", False, cfg, options)


def build_om(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    return _build("visionzip_om", True, cfg, options)
