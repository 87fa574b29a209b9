"""Token budgets: R -> (R_v, R_a), the block-wise TRR decay schedule and integer counts.

One source for every number that depends on the overall token retention ratio (TRR) R, so
methods, the runtime, FLOPs and tables agree:

* `split_budget` / `resolve_budget`: per-modality ratios under the paper's two modes
  (Appendix B.2, Table 7), with the constraint R_v*n_v + R_a*n_a = R*(n_v + n_a).
* `build_schedule`: the per-layer TRR of Sec. 4.2.1 / Table 2, with delta solved in closed
  form (Appendix A) so that the layer-weighted mean TRR equals R_v (video) and R_a (audio).
* `layer_counts` / `stage_targets`: the integer token counts every layer processes.

Layer numbers in the paper (and in `boundaries`) are 1-based; runtime hook indices are 0-based
and named `*_after` (the 0-based decoder layer after which tokens drop). Counts are taken
relative to the original N_m as in the paper, not chained on the counts left after the
previous drop as the official code does (reference notes, sec. 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seats_eval.backbones.config import BackboneConfig, check_boundaries, load_backbone_config
from seats_eval.errors import ConfigError

MODALITIES: tuple[str, str] = ("video", "audio")
MODES: tuple[str, str] = ("both", "audio_intact")
DECAYS: tuple[str, str] = ("exp", "equal")

# Audio-intact R_v below this is "impractically low" (Table 7 prints '-').
MIN_AUDIO_INTACT_RV = 0.05
# Relative tolerance used to recognise a preset R (0.35 typed as 0.35000000000000003).
_R_MATCH_TOL = 1e-9


def _config(backbone: str | BackboneConfig | None) -> BackboneConfig | None:
    """The config of a backbone name (None stays None)."""
    return load_backbone_config(backbone) if isinstance(backbone, str) else backbone


# ---------------------------------------------------------------------------------------
# R -> (R_v, R_a)
# ---------------------------------------------------------------------------------------

# Table 7's "Both-selected" columns (hand-set hyper-parameters of the paper, not results;
# they satisfy the budget constraint only up to the table's rounding) live in each backbone
# YAML as `both_selected: {R: [R_v, R_a]}`. R values without a pair use the rule
# R_a = R ** gamma (concave, R_a >= R, through (0, 0) and (1, 1)), R_v solved exactly from
# the constraint; gamma is the YAML's `both_gamma`, the minimax fit of its Table 7 pairs
# (max deviation 1.7 points for Qwen2.5, 1.1 for Qwen3); without one gamma = 1 (R_v = R_a = R).


def _normalise_mode(mode: str) -> str:
    m = str(mode).strip().lower().replace("-", "_")
    if m == "both_selected":
        m = "both"
    if m not in MODES:
        raise ConfigError(f"unknown budget mode {mode!r}: allowed {', '.join(MODES)}")
    return m


def _check_ratio(name: str, value: float) -> float:
    v = float(value)
    if not (0.0 < v <= 1.0) or math.isnan(v):
        raise ConfigError(f"{name} must be in (0, 1], got {value!r}")
    return v


def _check_geometry(n_v: int, n_a: int) -> None:
    if n_v <= 0 or n_a < 0:
        raise ConfigError(f"tokens per window must be n_v > 0, n_a >= 0; got n_v={n_v}, n_a={n_a}")


def _solve_rv(R: float, R_a: float, n_v: int, n_a: int) -> float:
    """R_v from R_v*n_v + R_a*n_a = R*(n_v + n_a)."""
    if R_a == R:
        return R  # exact, no float noise for the uniform split
    return (R * (n_v + n_a) - R_a * n_a) / n_v


def both_selected_rule(
    R: float, n_v: int, n_a: int, backbone: str | BackboneConfig | None = None
) -> tuple[float, float]:
    """The documented rule behind the both-selected presets: R_a = R**gamma, R_v solved.

    Used for R values the paper did not tabulate; exposed so tests can compare it with the
    presets.
    """
    R = _check_ratio("R", R)
    _check_geometry(n_v, n_a)
    cfg = _config(backbone)
    gamma = cfg.both_gamma if cfg is not None and cfg.both_gamma is not None else 1.0
    R_a = min(1.0, R**gamma)
    R_v = _solve_rv(R, R_a, n_v, n_a)
    if R_v <= 0.0:
        raise ConfigError(
            f"R={R} is too low for mode 'both' on this backbone (R_a={R_a:.3f} leaves "
            f"R_v={R_v:.4f}); use a larger R or pass R_v/R_a explicitly"
        )
    return min(1.0, R_v), R_a


def split_budget(
    R: float,
    mode: str,
    n_v: int,
    n_a: int,
    backbone: str | BackboneConfig | None = None,
) -> tuple[float, float]:
    """Per-modality TRRs (R_v, R_a) for overall TRR R (paper Appendix B.2, Table 7).

    mode "audio_intact": R_a = 1 and R_v solved exactly from the budget constraint; raises
    ConfigError when R_v < 0.05 (Table 7's '-', "impractically low").
    mode "both": Table 7's hand-set pairs for the paper's R values on its backbones, else
    `both_selected_rule`. n_v, n_a are the backbone's tokens per 2-s window (Sec. 5.1).
    R = 1 always gives (1, 1).
    """
    R = _check_ratio("R", R)
    mode = _normalise_mode(mode)
    _check_geometry(n_v, n_a)
    if R == 1.0:
        return 1.0, 1.0
    if mode == "audio_intact":
        R_v = _solve_rv(R, 1.0, n_v, n_a)
        if R_v < MIN_AUDIO_INTACT_RV:
            raise ConfigError(
                f"mode 'audio_intact' at R={R} leaves R_v={R_v:.4f} < {MIN_AUDIO_INTACT_RV}: "
                "impractically low (Table 7 '-'); use mode 'both' or a larger R"
            )
        return R_v, 1.0
    cfg = _config(backbone)
    presets = cfg.both_selected if cfg is not None else {}
    for r_key, pair in presets.items():
        if abs(r_key - R) <= _R_MATCH_TOL:
            return pair
    return both_selected_rule(R, n_v, n_a, cfg)


@dataclass(frozen=True)
class Budget:
    """Overall TRR R and the per-modality TRRs the methods work with."""

    R: float
    R_v: float
    R_a: float
    mode: str

    def ratio(self, modality: str) -> float:
        """R_v for "video", R_a for "audio"."""
        if modality == "video":
            return self.R_v
        if modality == "audio":
            return self.R_a
        raise ConfigError(f"unknown modality {modality!r}: allowed {', '.join(MODALITIES)}")


def resolve_budget(
    R: float,
    mode: str,
    n_v: int,
    n_a: int,
    R_v: float | None = None,
    R_a: float | None = None,
    backbone: str | BackboneConfig | None = None,
) -> Budget:
    """Budget from R and mode, with optional explicit overrides (model_args R_v / R_a).

    Both overrides given: used as-is (the constraint is not enforced, as for OmniZip's
    25 (25-25) in Table 3). One given: the other is solved from the constraint.
    None given: `split_budget`. In mode "audio_intact", R_a must be 1.
    """
    R = _check_ratio("R", R)
    mode = _normalise_mode(mode)
    _check_geometry(n_v, n_a)
    if mode == "audio_intact":
        if R_a is not None and float(R_a) != 1.0:
            raise ConfigError(f"mode 'audio_intact' keeps all audio: R_a must be 1, got {R_a}")
        if R_a is None and R_v is not None:
            R_a = 1.0
    if R_v is None and R_a is None:
        rv, ra = split_budget(R, mode, n_v, n_a, backbone)
    elif R_v is not None and R_a is not None:
        rv, ra = _check_ratio("R_v", R_v), _check_ratio("R_a", R_a)
    elif R_a is not None:
        ra = _check_ratio("R_a", R_a)
        rv = _check_ratio("R_v (solved from R and R_a)", _solve_rv(R, ra, n_v, n_a))
    else:
        rv = _check_ratio("R_v", R_v)  # type: ignore[arg-type]
        if n_a == 0:
            raise ConfigError("cannot solve R_a with n_a = 0 audio tokens per window; pass R_a")
        ra = _check_ratio("R_a (solved from R and R_v)", (R * (n_v + n_a) - rv * n_v) / n_a)
    return Budget(R=R, R_v=rv, R_a=ra, mode=mode)


# ---------------------------------------------------------------------------------------
# TRR decay schedule (Sec. 4.2.1, Table 2, Appendix A)
# ---------------------------------------------------------------------------------------


def _decay_weights(decay: str) -> tuple[float, float, float]:
    """Step sizes of the three middle sub-blocks in units of delta."""
    if decay == "exp":
        return (1.0, math.e, math.e**2)
    if decay == "equal":
        return (1.0, 1.0, 1.0)
    raise ConfigError(f"unknown decay {decay!r}: allowed {', '.join(DECAYS)}")


def _block_sizes(boundaries: Sequence[int]) -> tuple[int, int, int, int]:
    """Layers in shallow, middle-1, middle-2, middle-3 blocks (Appendix A, Eq. 2)."""
    L_s, L_m1, L_m2, L_l = boundaries
    return (L_s, L_m1 - L_s - 1, L_m2 - L_m1, L_l - L_m2)


def trr_constant_C(L_s: int, L_m1: int, L_m2: int, L_l: int, decay: str = "exp") -> float:
    """Appendix A's constant: C = L_s + 1 + e*L_m1 + e^2*L_m2 - (1 + e + e^2)*L_l.

    Equivalently C = -sum_i n_i * (w_1 + ... + w_i) over the middle sub-blocks (n_i layers,
    step weights w = (1, e, e^2)); decay="equal" uses w = (1, 1, 1) in the same form.
    Negative for every valid boundary set (the main text's "+42.759" drops the sign).
    """
    b = check_boundaries((L_s, L_m1, L_m2, L_l))
    w = _decay_weights(decay)
    _, n1, n2, n3 = _block_sizes(b)
    return -(n1 * w[0] + n2 * (w[0] + w[1]) + n3 * (w[0] + w[1] + w[2]))


@dataclass(frozen=True)
class ModalitySchedule:
    """One modality's schedule: its block levels and the TRR of every layer."""

    R: float  # the modality's overall TRR (R_v or R_a)
    r_s: float  # shallow-block / Stage I TRR = lam * R
    delta: float
    steps: tuple[float, ...]  # drop of each middle sub-block: delta * w_i
    levels: tuple[float, ...]  # (r_s, r_m1, r_m2, r_m3)
    trr: tuple[float, ...]  # per layer, length L; 0 in the late block

    @property
    def mean_trr(self) -> float:
        """Layer-weighted mean; equals R by construction."""
        return sum(self.trr) / len(self.trr)


@dataclass(frozen=True)
class Schedule:
    """Both modalities' TRR schedules plus the 0-based layers after which tokens drop.

    drop_after = (L_s-1, L_m1-2, L_m2-2): Stage II steps; late_after = L_l-2: Stage III.
    For Qwen2.5-Omni-7B: (15, 17, 19) and 22. An identity schedule (R_v = R_a = 1) has no
    drops: drop_after = () and late_after = None.
    """

    budget: Budget
    backbone: str
    num_layers: int
    boundaries: tuple[int, ...]
    lam: float
    decay: str
    C: float
    video: ModalitySchedule
    audio: ModalitySchedule
    drop_after: tuple[int, ...]
    late_after: int | None

    def modality(self, name: str) -> ModalitySchedule:
        """The "video" or "audio" schedule."""
        if name == "video":
            return self.video
        if name == "audio":
            return self.audio
        raise ConfigError(f"unknown modality {name!r}: allowed {', '.join(MODALITIES)}")

    @property
    def is_identity(self) -> bool:
        """True when nothing is pruned (R_v = R_a = 1)."""
        return self.late_after is None


def _modality_schedule(
    name: str, R_m: float, lam: float, L: int, b: tuple[int, ...], decay: str, C: float
) -> ModalitySchedule:
    r_s = lam * R_m
    if r_s > 1.0 + 1e-12:
        m = f"R_{name[0]}"
        lam_min, lam_max = L / (b[3] - 1), 1.0 / R_m  # delta >= 0 below; Stage I TRR <= 1 here
        if lam_min <= lam_max:
            hint = f"use lam in [{lam_min:.4f}, {lam_max:.4f}] (the schedule needs lam >= L / (L_l - 1)), or a lower {m}"
        else:
            hint = (f"no lam works for {m}={R_m:g}: lam <= 1 / {m} = {lam_max:.4f}, but these boundaries need "
                    f"lam >= L / (L_l - 1) = {lam_min:.4f}; {m} must be below {1 / lam_min:.4f}")
            if name == "audio" and R_m >= 1.0:
                hint += " (mode=audio_intact keeps all audio, so SEATS cannot run it on these boundaries: use mode=both)"
        raise ConfigError(f"lam * {m} = {lam:g} * {R_m:g} = {r_s:.4f} > 1: the {name} Stage I TRR cannot "
                          f"exceed 1; {hint}")
    w = _decay_weights(decay)
    # Appendix A: delta = (L - L_l*lam + lam) * R / C, the step that makes the mean TRR over L layers R
    delta = (L - b[3] * lam + lam) * R_m / C
    if delta < 0:
        raise ConfigError(
            f"lam={lam} is too small for L={L}, L_l={b[3]}: the middle block would have to "
            f"grow (delta={delta:.5f} < 0); need (L_l - 1) * lam >= L, i.e. lam >= "
            f"{L / (b[3] - 1):.4f}"
        )
    steps = tuple(delta * wi for wi in w)
    levels = [r_s]
    for s in steps:
        levels.append(levels[-1] - s)
    if min(levels) < -1e-12:
        raise ConfigError(
            f"{name} TRR levels {[round(x, 5) for x in levels]} go negative: lower lam or "
            "move the boundaries (later L_l, longer middle sub-blocks)"
        )
    levels = [max(0.0, x) for x in levels]
    n_s, n1, n2, n3 = _block_sizes(b)
    trr = [levels[0]] * n_s + [levels[1]] * n1 + [levels[2]] * n2 + [levels[3]] * n3
    trr += [0.0] * (L - len(trr))
    return ModalitySchedule(
        R=R_m, r_s=r_s, delta=delta, steps=steps, levels=tuple(levels), trr=tuple(trr)
    )


def build_schedule(
    budget: Budget,
    backbone_cfg: BackboneConfig,
    lam: float | None = None,
    decay: str = "exp",
    boundaries: Sequence[int] | None = None,
) -> Schedule:
    """Per-layer TRR schedule of Table 2 for both modalities of `budget`.

    lam and boundaries default to the backbone config's. Raises ConfigError for invalid
    boundaries, lam*R_m > 1, a shrinking lam (delta < 0) or negative TRRs. A budget with
    R_v = R_a = 1 gives the identity schedule (every layer keeps everything, no drops).
    """
    if decay not in DECAYS:
        raise ConfigError(f"unknown decay {decay!r}: allowed {', '.join(DECAYS)}")
    L = backbone_cfg.num_layers
    b = check_boundaries(boundaries if boundaries is not None else backbone_cfg.boundaries, L)
    lam_f = float(lam if lam is not None else backbone_cfg.lam)
    if not lam_f > 0:
        raise ConfigError(f"lam must be > 0, got {lam_f}")
    C = trr_constant_C(*b, decay=decay)
    name = backbone_cfg.name
    if budget.R_v == 1.0 and budget.R_a == 1.0:
        full = ModalitySchedule(
            R=1.0, r_s=1.0, delta=0.0, steps=(0.0, 0.0, 0.0), levels=(1.0,) * 4, trr=(1.0,) * L
        )
        return Schedule(budget, name, L, b, lam_f, decay, C, full, full, (), None)
    video = _modality_schedule("video", budget.R_v, lam_f, L, b, decay, C)
    audio = _modality_schedule("audio", budget.R_a, lam_f, L, b, decay, C)
    L_s, L_m1, L_m2, L_l = b
    return Schedule(
        budget=budget,
        backbone=name,
        num_layers=L,
        boundaries=b,
        lam=lam_f,
        decay=decay,
        C=C,
        video=video,
        audio=audio,
        drop_after=(L_s - 1, L_m1 - 2, L_m2 - 2),
        late_after=L_l - 2,
    )


# ---------------------------------------------------------------------------------------
# Integer counts
# ---------------------------------------------------------------------------------------


def round_count(x: float) -> int:
    """Token count of a real target: Python's round (half to even), as the official code.

    The value is first rounded to 9 decimals so float noise (0.35*50 = 17.499999...) cannot
    flip a tie; a genuine .5 then goes to the even neighbour.
    """
    return round(round(float(x), 9))


def _modality_counts(ms: ModalitySchedule, n: int) -> list[int]:
    if n <= 0:
        return [0] * len(ms.trr)
    counts: list[int] = []
    prev = n
    for r in ms.trr:
        c = 0 if r <= 0 else min(prev, max(1, round_count(r * n)))
        counts.append(c)
        prev = c
    return counts


def layer_counts(schedule: Schedule, n_video: int, n_audio: int) -> dict[str, Any]:
    """Video/audio tokens each of the L layers processes, plus the Stage I targets.

    count = round_count(r * N_m), at least 1 for a non-empty modality while r > 0, never
    above the previous layer's count (or N_m), 0 in the late block. Returns
    {"video": [L ints], "audio": [L ints], "stage1": {"video": k, "audio": k}}; the
    Stage I target is layer 1's count, round(lam * R_m * N_m).
    """
    if n_video < 0 or n_audio < 0:
        raise ConfigError(f"token counts must be >= 0, got video={n_video}, audio={n_audio}")
    v = _modality_counts(schedule.video, int(n_video))
    a = _modality_counts(schedule.audio, int(n_audio))
    return {"video": v, "audio": a, "stage1": {"video": v[0], "audio": a[0]}}


def stage_targets(schedule: Schedule, n_video: int, n_audio: int) -> list[tuple[int, int, int]]:
    """(after_layer_0based, k_video, k_audio) for each Stage II drop, in order.

    k is the count the next layer processes. With an empty middle sub-block two steps share
    a layer; apply them in order (the second keeps a subset of the first).
    """
    counts = layer_counts(schedule, n_video, n_audio)
    return [(i, counts["video"][i + 1], counts["audio"][i + 1]) for i in schedule.drop_after]
