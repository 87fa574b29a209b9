"""SEATS: stage-adaptive token selection (the paper's Sec. 4).

Stage I (pre-LLM): winDivPrune, per 2-s window and per modality, keeps lam*R_m of the
tokens by attention-weighted max-min diversity on the LLM-input embeddings.
Stage II (in the LLM): after the three middle-block boundaries, keeps the schedule's counts,
allocated top-down (windows, then modalities) by last-text-token attention and picked by
top-k inside each window and modality.
Stage III: after layer L_l - 1 every non-text token is dropped.

`profile=official` (the default) follows the authors' code rule by rule and `profile=paper`
the text (docs/profiles.md has the table). Under `paper` counts are exact per modality at
every step (budgets.layer_counts); under `official` Stage I counts are per tiled window,
Stage II counts chain on the tokens left, windows are the sequence's contiguous runs and the
allocation does not enforce per-modality totals (select/allocation.py `allocate_combined`),
so the counts are known only after each step: the allocation runs on the device, and the
runtime reads the kept counts once per Stage II step (docs/profiles.md, "Cost").
Switches name the ablations of Table 5 and the official code's score variant.

Ablation switches (`--model_args`; defaults first; rows of Table 5, see docs/ablations.md):
- `stage1=windivprune|random|visionzip|omnizip`: the Stage I selector (rows 1, 3, 4).
  `random` keeps the same per-window, per-modality counts as winDivPrune, drawn uniformly
  (seeded by `seed`, default 0, the same draw for every sample: it does not depend on the
  order of the samples). `visionzip` (alias `visionzip_om`; VisionZip-om: dominant +
  merged contextual tokens per frame / audio window) and `omnizip` (audio-guided, OmniZip)
  call the baselines' `stage1_select` at SEATS' Stage I counts (lam * R_m * N_m per
  modality); their merged anchors enter the LLM (pre_llm returns keep-mask and
  replacement embeddings).
- `attn_weighted=true|false`: winDivPrune weights a_j from encoder attention (row 2).
- `stage2=true|false`: no middle-block drops (row 5). Stage I alone then spends the budget:
  per modality r = R_m * L / (L_l - 1), so that the layer-weighted mean TRR, with the late
  block at 0, is R_m (r = R_m without late removal); ConfigError if r > 1. `lam` and
  `decay` have no effect then.
- `decay=exp|equal`: step sizes (1, e, e^2) or (1, 1, 1) of the middle sub-blocks (row 6).
- `coupled=true|false`: joint top-down budget or each modality spread over windows on its
  own ("Decouple", row 7).
- `selection=window|global`: per-window top-k or one top-k per modality (row 8).
- `inter_window=true|false`, `intra_window=true|false`: the two levels of the top-down
  allocation (rows 9, 10).
- `late_removal=true|false`: Stage III (Sec. 5.3 text). Without it the late block keeps
  the last middle sub-block's tokens, and the schedule (hence planned counts/FLOPs) says so.
Each switch changes only what it names: every switch but `stage1`, `attn_weighted` and
`stage2` leaves the Stage I selection unchanged (tests/test_ablations.py). The authors' code
has none of these switches: under `official` the switched-off allocation levels
(`coupled`, `inter_window`, `intra_window`) use the paper's allocator on the official
windows and relevances, and `stage1=visionzip|omnizip` the baselines' own rules at the
official Stage I counts (docs/profiles.md). Under `official` nothing is pruned when no
lam * R_m is below 1 (the authors' gate: full tokens at R_v = R_a = 1 / lam and above).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ..backbones.budgets import DECAYS, Budget, ModalitySchedule, Schedule, build_schedule, layer_counts
from ..backbones.config import BackboneConfig
from ..errors import ConfigError, SeatsError
from ..layout import AUDIO, TEXT, VIDEO, TokenLayout, run_windows
from ..select import (
    allocate_budgets,
    allocation,
    apportion,
    checks,
    global_topk,
    masked_softmax,
    topk_per_window,
    weighted_maxmin,
    window_relevance,
)
from ..select.diversity import Tiling, official_stage1, tile_counts, tile_windows
from ..select.relevance import segment_mean
from .base import (
    SCORE_SOURCE_ALIASES,
    SCORE_SOURCES,
    Counts,
    DropStep,
    Method,
    Plan,
    PreLLMContext,
    PreLLMResult,
)
from .common import BUDGET_OPTIONS, parse_budget
from .options import DEFAULT_PROFILE, Options

OPTIONS = BUDGET_OPTIONS | {
    "lam", "tau", "boundaries", "score_source", "decay",
    "late_removal", "attn_weighted", "inter_window", "intra_window", "coupled", "selection",
    "window_batch", "stage1", "stage2", "seed",
}
SELECTIONS = ("window", "global")
STAGE1 = ("windivprune", "random", "visionzip", "omnizip")
STAGE1_ALIASES = {"visionzip_om": "visionzip", "visionzip-om": "visionzip"}  # the selector is VisionZip-om
# Stage I selectors that live in baseline modules (their `stage1_select`): stage1 name -> module.
_BASELINE_STAGE1 = {"visionzip": "seats_eval.methods.visionzip", "omnizip": "seats_eval.methods.omnizip"}


# -- profile=official: the authors' Stage II counts and gate (docs/profiles.md rules 4, 15) --
def keep_ratios(levels: tuple[float, ...]) -> tuple[float, ...]:
    """keep_i = round(level_i / level_{i-1}, 4) of the middle sub-blocks (0 when the level
    before is 0)."""
    return tuple(round(b / a, 4) if a > 0 else 0.0 for a, b in zip(levels[:-1], levels[1:], strict=True))


def chained_count(keep: float, n: int) -> int:
    """Tokens a Stage II step keeps of a modality with n tokens left: max(1, round(keep * n))."""
    return max(1, round(keep * n)) if n > 0 else 0


def gate_prunes(lam: float, r_v: float, r_a: float) -> bool:
    """Whether the authors' SEATS thinker prunes at all: only when some Stage I ratio
    lam * R_m (their `video_ratio * encoder_ratio_scale`) is below 1. Otherwise no stage
    runs, Stage II and III included (R_v = R_a = 1 / 1.4 is full tokens there)."""
    return float(r_v) * float(lam) < 1.0 or float(r_a) * float(lam) < 1.0


def windivprune(
    embeds: torch.Tensor,
    layout: TokenLayout,
    modality: int,
    total: int,
    weights: torch.Tensor | None,
    window_batch: int = 64,
) -> torch.Tensor:
    """Keep-mask (S,) of `total` tokens of `modality`: per window, attention-weighted
    max-min diversity; the total is split over windows in proportion to their sizes
    (exact sum, >= 1 per non-empty window). Windows are processed in batches."""
    keep = torch.zeros(layout.length, dtype=torch.bool, device=embeds.device)
    mat, valid = layout.window_matrix(modality)
    if mat.numel() == 0 or total <= 0:
        return keep
    sizes = valid.sum(dim=1)
    k = apportion(sizes.double(), int(total), sizes, (sizes > 0).long())
    for start in range(0, mat.shape[0], window_batch):  # bounded memory: W x n x d features
        m, v, kk = mat[start:start + window_batch], valid[start:start + window_batch], k[start:start + window_batch]
        idx = m.clamp_min(0)
        feats = embeds[idx]
        w = weights[idx].float() * v if weights is not None else None
        picked = weighted_maxmin(feats, kk, w, v)
        keep[m[picked]] = True
    return keep


def window_random(
    layout: TokenLayout, modality: int, total: int, generator: torch.Generator
) -> torch.Tensor:
    """Keep-mask (S,) of `total` tokens of `modality` drawn uniformly inside each window,
    with winDivPrune's per-window counts (proportional to window size, exact sum, >= 1 per
    non-empty window): the "winDivPrune -> Random" ablation. Draws come from `generator`
    on the CPU, so they do not depend on the device."""
    member = layout.modality == modality
    keep = torch.zeros(layout.length, dtype=torch.bool, device=layout.modality.device)
    if total <= 0 or not bool(member.any()) or layout.num_windows == 0:
        return keep
    sizes = layout.window_counts(modality)
    k = apportion(sizes.double(), int(total), sizes, (sizes > 0).long())
    scores = torch.rand(layout.length, generator=generator).to(layout.modality.device)
    return topk_per_window(scores, layout.window, k, member)


def stage1_only_schedule(budget: Budget, cfg: BackboneConfig, *, decay: str = "exp",
                         boundaries: tuple[int, ...] | None = None, late_removal: bool = True) -> Schedule:
    """The "w/o Stage II" schedule: no middle-block drops, Stage I alone spends the budget.

    Per modality r = R_m * L / (L_l - 1): every layer before the late block keeps r, the
    late block [L_l, L] keeps nothing, so the layer-weighted mean TRR is R_m. Without late
    removal every layer keeps r = R_m. ConfigError if r > 1. `lam` plays no part (the
    schedule's `lam` field reports the effective r / R_m); R_v = R_a = 1 gives the identity.
    """
    frame = build_schedule(Budget(1.0, 1.0, 1.0, budget.mode), cfg, decay=decay, boundaries=boundaries)
    if budget.R_v == 1.0 and budget.R_a == 1.0:
        return frame
    L, L_l = frame.num_layers, frame.boundaries[3]
    alive = L_l - 1 if late_removal else L
    parts: dict[str, ModalitySchedule] = {}
    for name in ("video", "audio"):
        R_m = budget.ratio(name)
        r = R_m * L / alive
        if r > 1.0 + 1e-12:
            raise ConfigError(
                f"stage2=false: Stage I alone must keep R_{name[0]} * L / (L_l - 1) = {R_m:g} * {L} / {alive} "
                f"= {r:.4f} > 1 of the {name} tokens; lower R (or R_{name[0]}), or keep Stage II"
            )
        r = min(r, 1.0)
        parts[name] = ModalitySchedule(R=R_m, r_s=r, delta=0.0, steps=(0.0, 0.0, 0.0), levels=(r,) * 4,
                                       trr=(r,) * alive + (0.0,) * (L - alive))
    return replace(frame, budget=budget, lam=L / alive, video=parts["video"], audio=parts["audio"],
                   drop_after=(), late_after=L_l - 2)


def no_late_removal_schedule(schedule: Schedule) -> Schedule:
    """Without Stage III the late block [L_l, L] keeps the last middle sub-block's tokens."""
    if schedule.is_identity:
        return schedule
    n_alive = schedule.boundaries[3] - 1
    parts = {}
    for name in ("video", "audio"):
        ms = schedule.modality(name)
        trr = ms.trr[:n_alive] + (ms.levels[-1],) * (schedule.num_layers - n_alive)
        parts[name] = replace(ms, trr=trr)
    return replace(schedule, video=parts["video"], audio=parts["audio"])


def _baseline_stage1(name: str) -> Any:
    """The baseline's pure Stage I selector `stage1_select(ctx, k_video, k_audio, out)`: a
    keep-mask over video and audio at the given counts, merged anchors written into `out`
    (VisionZip-om: dominant + contextual per frame / window; OmniZip: audio-guided)."""
    import importlib

    return importlib.import_module(_BASELINE_STAGE1[name]).stage1_select


class Seats(Method):
    name = "seats"

    def __init__(self, budget: Budget, cfg: BackboneConfig, *, lam: float | None = None, tau: float | None = None,
                 boundaries: tuple[int, ...] | None = None, score_source: str = "same_layer",
                 decay: str = "exp", late_removal: bool = True, attn_weighted: bool = True,
                 inter_window: bool = True, intra_window: bool = True, coupled: bool = True,
                 selection: str = "window", window_batch: int = 64, stage1: str = "windivprune",
                 stage2: bool = True, seed: int = 0, profile: str = DEFAULT_PROFILE) -> None:
        super().__init__(profile)
        if score_source not in SCORE_SOURCES:
            raise ConfigError(f"score_source {score_source!r}; allowed: {', '.join(SCORE_SOURCES)}")
        if selection not in SELECTIONS:
            raise ConfigError(f"selection {selection!r}; allowed: {', '.join(SELECTIONS)}")
        if stage1 not in STAGE1:
            raise ConfigError(f"stage1 {stage1!r}; allowed: {', '.join(STAGE1)}")
        official = self.profile == "official"
        self.geometry = cfg.authors_code
        self.budget = budget
        lam_eff = float(lam if lam is not None else cfg.lam)
        if stage2 and official and not gate_prunes(lam_eff, budget.R_v, budget.R_a):
            # the authors' gate: no lam * R_m below 1, nothing pruned at all (their full tokens)
            self.schedule = replace(build_schedule(Budget(1.0, 1.0, 1.0, budget.mode), cfg, lam=lam,
                                                   decay=decay, boundaries=boundaries), budget=budget)
        elif stage2:
            self.schedule = build_schedule(budget, cfg, lam=lam, decay=decay, boundaries=boundaries)
            if not late_removal:
                self.schedule = no_late_removal_schedule(self.schedule)
        else:
            self.schedule = stage1_only_schedule(budget, cfg, decay=decay, boundaries=boundaries,
                                                 late_removal=late_removal)
        self.tau = float(tau if tau is not None else (self.geometry.tau if official else cfg.tau))
        if not self.tau > 0:
            raise ConfigError(f"tau must be > 0, got {self.tau}")
        self.score_source = score_source
        self.late_removal = late_removal
        self.attn_weighted = attn_weighted
        self.alloc = {"inter_window": inter_window, "intra_window": intra_window, "coupled": coupled}
        self.selection = selection
        self.window_batch = int(window_batch)
        self.stage1 = stage1
        self.stage2 = stage2
        self.seed = int(seed)
        self._stage1_fn = _baseline_stage1(stage1) if stage1 in _BASELINE_STAGE1 else None
        uses_signals = {"windivprune": attn_weighted, "random": False}.get(stage1, True)
        self.needs_encoder_signals = uses_signals and not self.schedule.is_identity
        self.signal_audio_window = self.geometry.signal_audio_frames if official else None
        # official Stage II counts: keep ratios of the sub-block levels, rounded to 4 decimals
        self.keep = {m: keep_ratios(self.schedule.modality(m).levels) for m in ("video", "audio")}
        self._step_index = {f"stage2_{i + 1}": i for i in range(len(self.schedule.drop_after))}
        # The profile's rules, chosen once: Stage I, Stage II, whether counts are planned (paper:
        # exact per layer) or known only after each step (official), the scores' precision.
        self.planned = not official or self.schedule.is_identity
        self._stage1 = self._official_stage1 if official else self._paper_stage1
        self._stage2 = self._official_stage2 if official else self._paper_stage2
        self.model_dtype = official

    def describe(self) -> dict[str, Any]:
        s = self.schedule
        return {"method": self.name, "R": self.budget.R, "R_v": self.budget.R_v, "R_a": self.budget.R_a,
                "mode": self.budget.mode, "lam": s.lam, "tau": self.tau, "boundaries": list(s.boundaries),
                "decay": s.decay, "score_source": self.score_source, "late_removal": self.late_removal,
                "attn_weighted": self.attn_weighted, "selection": self.selection, **self.alloc,
                "stage1": self.stage1, "stage2": self.stage2, "profile": self.profile,
                **({"seed": self.seed} if self.stage1 == "random" else {})}

    def plan(self, counts: Counts) -> Plan:
        """paper: the tokens every layer keeps, from the schedule (budgets.layer_counts).
        official: known only as the run goes (per-window Stage I counts, chained Stage II
        counts, no exact totals): no per-layer plan."""
        text, n_v, n_a = (int(c) for c in counts)
        if not self.planned:
            return Plan((text, n_v, n_a))
        c = layer_counts(self.schedule, n_v, n_a)
        return Plan((text, n_v, n_a), tuple((text, v, a) for v, a in zip(c["video"], c["audio"], strict=True)))

    # Stage I ------------------------------------------------------------------------------
    def pre_llm(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        if self.schedule.is_identity:
            return PreLLMResult()
        return self._stage1(ctx, plan)

    def _paper_stage1(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        """The text's Stage I: the planned modality totals split over the 2-s windows in
        proportion to their sizes, weighted max-min diversity in each."""
        lay = ctx.layout
        _, k_video, k_audio = plan.layer(0)  # Stage I keeps what the first layer processes
        keep = lay.modality == TEXT
        if self._stage1_fn is not None:  # a baseline's selector (stage1=visionzip|omnizip) with merging
            out = ctx.embeds.clone()
            return PreLLMResult(keep | self._stage1_fn(ctx, k_video, k_audio, out), out)
        gen = torch.Generator().manual_seed(self.seed) if self.stage1 == "random" else None
        for mod, k, sig in ((VIDEO, k_video, "video_attn"), (AUDIO, k_audio, "audio_attn")):
            if gen is not None:
                keep |= window_random(lay, mod, k, gen)
                continue
            w = getattr(ctx.signals, sig, None) if (self.attn_weighted and ctx.signals) else None
            keep |= windivprune(ctx.embeds, lay, mod, k, w, self.window_batch)
        return PreLLMResult(keep)

    def _tiles(self, layout: TokenLayout, modality: int, n: int) -> tuple[list[int], list[int]]:
        """(window sizes, tokens kept per window) of the official Stage I tiling."""
        g = self.geometry
        size = g.stage1_video_grids * layout.tokens_per_grid if modality == VIDEO else g.stage1_audio_tokens
        sizes = tile_windows(n, size)
        ratio = self.schedule.modality("video" if modality == VIDEO else "audio").levels[0]
        return sizes, tile_counts(sizes, ratio)

    def official_tilings(self, ctx: PreLLMContext) -> dict[int, Tiling]:
        """The authors' Stage I tiles of each modality present: its token list cut into
        windows (2 grids, 50 audio tokens), round(ratio * w) kept per window, weighted by the
        encoder attention (attn_weighted)."""
        lay = ctx.layout
        tiles: dict[int, Tiling] = {}
        for mod in (VIDEO, AUDIO):
            pos = torch.nonzero(lay.modality == mod).flatten()
            if not pos.numel():
                continue
            sig = getattr(ctx.signals, "video_attn" if mod == VIDEO else "audio_attn", None) \
                if (self.attn_weighted and ctx.signals) else None
            w = sig[pos.to(sig.device)].to(ctx.embeds.device) if sig is not None else None
            tiles[mod] = Tiling(pos, *self._tiles(lay, mod, pos.numel()), w)
        return tiles

    def _official_stage1(self, ctx: PreLLMContext, plan: Plan) -> PreLLMResult:
        """The authors' Stage I: unclamped winDivPrune in every tile of `official_tilings`, with
        distances bit for bit the authors' (select.diversity.official_stage1: one copy of the
        embeddings instead of three, one greedy loop for every window; `authors_stage1`, their
        order of operations, is its oracle in the tests)."""
        keep = ctx.layout.modality == TEXT
        tiles = self.official_tilings(ctx)
        if self._stage1_fn is not None:  # an ablation selector at the official Stage I counts
            out = ctx.embeds.clone()
            k = {m: sum(tiles[m].counts) if m in tiles else 0 for m in (VIDEO, AUDIO)}
            return PreLLMResult(keep | self._stage1_fn(ctx, k[VIDEO], k[AUDIO], out), out)
        if self.stage1 == "random":
            gen = torch.Generator().manual_seed(self.seed)
            for t in tiles.values():
                keep[t.positions[_tile_random(t.sizes, t.counts, gen).to(t.positions.device)]] = True
            return PreLLMResult(keep)
        return PreLLMResult(keep | official_stage1(ctx.embeds, list(tiles.values())))

    # Stage II / III ------------------------------------------------------------------------
    def drop_steps(self, num_layers: int) -> list[DropStep]:
        s = self.schedule
        if s.num_layers != num_layers:
            raise ConfigError(f"schedule is for {s.num_layers} layers but the model has {num_layers}; "
                              "pass backbone_config matching the checkpoint")
        steps = [DropStep(a, self.score_source, f"stage2_{i + 1}", model_dtype=self.model_dtype)
                 for i, a in enumerate(s.drop_after)]
        if self.late_removal and s.late_after is not None:
            steps.append(DropStep(s.late_after, None, "late"))
        return steps

    def kept_counts(self, step: DropStep, counts: Counts, plan: Plan) -> Counts | None:
        text, n_v, n_a = counts
        if step.name == "late":
            return text, 0, 0
        if not self.planned:
            return None  # the official allocation does not fix the totals: the runtime reads the counts
        _, k_v, k_a = plan.layer(step.after_layer + 1)  # every selector below keeps min(k, available)
        return text, min(k_v, n_v), min(k_a, n_a)

    def in_llm(self, step: DropStep, scores: torch.Tensor | None, layout: TokenLayout, plan: Plan) -> torch.Tensor:
        text = layout.modality == TEXT
        if step.name == "late":
            return text
        assert scores is not None
        return text | self._stage2(step, scores, layout, plan)

    def _paper_stage2(self, step: DropStep, scores: torch.Tensor, layout: TokenLayout, plan: Plan) -> torch.Tensor:
        """The text's Stage II step: the planned counts, allocated over the 2-s windows."""
        _, k_v, k_a = plan.layer(step.after_layer + 1)
        v, a = layout.modality == VIDEO, layout.modality == AUDIO
        if self.selection == "global" or layout.num_windows <= 1:
            return global_topk(scores, v, k_v) | global_topk(scores, a, k_a)
        W = layout.num_windows
        S_tv = window_relevance(scores, layout.window, W, v, self.tau)
        S_ta = window_relevance(scores, layout.window, W, a, self.tau)
        B_v, B_a = allocate_budgets(S_tv, S_ta, layout.window_counts(VIDEO), layout.window_counts(AUDIO),
                                    k_v, k_a, **self.alloc)
        return topk_per_window(scores, layout.window, B_v, v) | topk_per_window(scores, layout.window, B_a, a)

    def _official_stage2(self, step: DropStep, scores: torch.Tensor, layout: TokenLayout,
                         plan: Plan) -> torch.Tensor:
        """The authors' Stage II step: counts chained on what is left, windows = contiguous
        runs, global top-k with < 2 windows or a modality absent, else their allocation.
        Nothing here reads the device: the number of runs stays a device value (ids are
        bounded by the LLM input's, `TokenLayout.num_runs`) and the < 2 windows fallback is a
        `where`."""
        i = self._step_index[step.name]
        _, n_v, n_a = layout.counts()  # known on the host (the runtime read them after the last step)
        k_v = chained_count(self.keep["video"][i], n_v)
        k_a = chained_count(self.keep["audio"][i], n_a)
        v, a = layout.modality == VIDEO, layout.modality == AUDIO
        fallback = global_topk(scores, v, k_v) | global_topk(scores, a, k_a)
        if self.selection == "global" or n_v == 0 or n_a == 0 or layout.num_runs < 2:
            return fallback
        W = layout.num_runs  # bounds the window ids on the host; the windows beyond `runs` are padding
        win, runs = run_windows(layout.modality)
        if checks.enabled(runs) and int(runs) > W:
            raise SeatsError(f"{int(runs)} runs of one modality, more than the LLM input's {W}")
        real = torch.arange(W, device=win.device) < runs
        p_v, c_v = segment_mean(scores, win, W, v)
        p_a, c_a = segment_mean(scores, win, W, a)
        if self.alloc == {"inter_window": True, "intra_window": True, "coupled": True}:
            B_v, B_a = allocation.allocate_combined(p_v, p_a, c_v, c_a, k_v, k_a, self.tau, present=real)
        else:  # an ablation of the allocation: the paper's allocator on the official windows
            S_v, S_a = masked_softmax(p_v / self.tau, c_v > 0), masked_softmax(p_a / self.tau, c_a > 0)
            B_v, B_a = allocate_budgets(S_v, S_a, c_v, c_a, k_v, k_a, **self.alloc)
        windowed = topk_per_window(scores, win, B_v, v) | topk_per_window(scores, win, B_a, a)
        return torch.where(runs >= 2, windowed, fallback)


def _tile_random(sizes: list[int], counts: list[int], gen: torch.Generator) -> torch.Tensor:
    """Bool mask over one modality's tokens: counts[i] drawn uniformly in tile i (CPU)."""
    keep = torch.zeros(sum(sizes), dtype=torch.bool)
    start = 0
    for w, k in zip(sizes, counts, strict=True):
        keep[start + torch.randperm(w, generator=gen)[:k]] = True
        start += w
    return keep


def build(cfg: BackboneConfig, options: dict[str, Any]) -> Method:
    opts = Options("seats", options, OPTIONS)
    budget = parse_budget(opts, cfg, "both")
    switches = ("late_removal", "attn_weighted", "inter_window", "intra_window", "coupled", "stage2")
    return Seats(
        budget, cfg, boundaries=opts.integers("boundaries", count=4),
        lam=opts.number("lam", None, lo=0.0, lo_open=True), tau=opts.number("tau", None, lo=0.0, lo_open=True),
        score_source=opts.choice("score_source", "same_layer", SCORE_SOURCES, aliases=SCORE_SOURCE_ALIASES),
        decay=opts.choice("decay", "exp", DECAYS), selection=opts.choice("selection", "window", SELECTIONS),
        stage1=opts.choice("stage1", "windivprune", STAGE1, aliases=STAGE1_ALIASES),
        window_batch=opts.integer("window_batch", 64, lo=1), seed=opts.integer("seed", 0),
        profile=opts.profile(), **{k: opts.boolean(k, True) for k in switches})
