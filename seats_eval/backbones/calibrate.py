"""Block boundaries (L_s, L_m1, L_m2, L_l) from a layer-removal probe (Sec. 3.2, Fig. 2).

The paper sets the boundaries by hand per backbone (Appendix D.2 lists this as a
limitation). This module turns the probe of `seats-eval probe` into boundaries with one
documented rule, so a new om-LLM gets a model_configs YAML from a command.

Curve. A probe point (p, m) removes every token of modality m after 0-based decoder layer p
(p = -1: before the LLM). Its x coordinate is x = p + 2, the 1-based index of the first
layer that no longer sees the tokens; x runs over 1..L. In this coordinate the SEATS blocks
read directly: the late block [L_l, L] sees no non-text token (late removal at x = L_l), and
the first Stage II drop sits at x = L_s + 1.

The rule (defaults in brackets; `calibrate_curve`):
1. Smooth: least-squares non-decreasing fit of the scores over x (pool-adjacent-violators).
   Accuracy can only recover as removal moves deeper; the fit averages out noise without
   shifting sharp steps as a moving average would. Unsampled layers are interpolated
   linearly (a coarse probe gives boundaries only as fine as its sampling).
2. Relative accuracy a(x) = s(x) / acc_full, with acc_full the probe's full-token run
   (without one: the largest smoothed score, noted in the result). floor = a(1) (the
   smallest value of the fit); progress g(x) = (a(x) - floor) / (1 - floor).
   If 1 - floor < min_drop [0.05] removal never hurts measurably: ConfigError.
3. Shallow: L_s = the last x with g(x) < collapse [0.5], i.e. removal there costs more than
   half of what removing the tokens before the LLM costs ("collapse").
4. Late: L_l = the first x from which a(y) >= 1 - tolerance [0.02] for every y >= x
   ("no measurable drop"); L if the curve never gets there (noted).
5. Middle: the layers L_s+1 .. L_l-1 (M of them) form the three sub-blocks
   (L_s, L_m1), [L_m1, L_m2), [L_m2, L_l).
   split "equal" [default]: sizes as equal as possible, the remainder to the later
   sub-blocks: M = 3q + r -> (q, q, q), (q, q, q+1), (q, q+1, q+1). This is how the paper's
   boundaries split their middle blocks: Qwen2.5-Omni-7B M = 7 -> (2, 2, 3) = (16, 19, 21, 24),
   Qwen3-Omni-30B M = 12 -> (4, 4, 4) = (27, 32, 36, 40) (and tiny.yaml: (2, 4, 5, 7)).
   split "recovery": L_m1 / L_m2 = the first middle layers where the recovery
   h(x) = (a(x) - a(L_s)) / (a(L_l) - a(L_s)) reaches 1/3 / 2/3.
6. Validity (config.check_boundaries): 1 <= L_s, L_s + 1 < L_m1 < L_m2 < L_l <= L. A middle
   block shorter than 3 layers is widened (L_l moved later, then L_s earlier), each
   adjustment noted; the recovery split is clamped into the valid range.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.atomic import write_text_atomic
from .budgets import Budget, build_schedule
from .config import check_boundaries, load_backbone_config

SPLITS = ("equal", "recovery")
DEFAULTS = {"collapse": 0.5, "tolerance": 0.02, "min_drop": 0.05, "split": "equal"}


@dataclass
class Calibration:
    """The derived boundaries and every intermediate the rule used (for the record)."""

    boundaries: tuple[int, int, int, int]
    num_layers: int
    acc_full: float
    floor: float
    relative: list[float]  # a(x), x = 1..L, after smoothing and interpolation
    progress: list[float]  # g(x)
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def isotonic(values: Sequence[float]) -> list[float]:
    """Least-squares non-decreasing fit (pool-adjacent-violators), equal weights."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    out: list[float] = []
    for m, c in blocks:
        out.extend([m] * int(c))
    return out


def _interpolate(xs: Sequence[int], ys: Sequence[float], L: int) -> list[float]:
    """Values at x = 1..L: linear between samples, held constant beyond the ends."""
    out = []
    for x in range(1, L + 1):
        if x <= xs[0]:
            out.append(ys[0])
        elif x >= xs[-1]:
            out.append(ys[-1])
        else:
            j = next(i for i in range(1, len(xs)) if xs[i] >= x)
            x0, x1, y0, y1 = xs[j - 1], xs[j], ys[j - 1], ys[j]
            out.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return out


def _equal_split(M: int) -> tuple[int, int, int]:
    q, r = divmod(M, 3)
    return (q, q, q + 1) if r == 1 else (q, q + 1, q + 1) if r == 2 else (q, q, q)


def calibrate_curve(
    layers: Sequence[int],
    scores: Sequence[float],
    num_layers: int,
    acc_full: float | None = None,
    *,
    collapse: float = DEFAULTS["collapse"],
    tolerance: float = DEFAULTS["tolerance"],
    min_drop: float = DEFAULTS["min_drop"],
    split: str = DEFAULTS["split"],
) -> Calibration:
    """Boundaries from a removal curve: `layers` are x = p + 2 (1-based first layer without
    the tokens, 1..L), `scores` the accuracy there; see the module docstring for the rule."""
    L = int(num_layers)
    if L < 5:
        raise ConfigError(f"calibration needs L >= 5 layers (L_s + 4 <= L_l <= L), got {L}")
    if split not in SPLITS:
        raise ConfigError(f"split {split!r}; allowed: {', '.join(SPLITS)}")
    if not (0 < collapse < 1 and 0 <= tolerance < 1 and 0 < min_drop < 1):
        raise ConfigError(f"need 0 < collapse < 1, 0 <= tolerance < 1, 0 < min_drop < 1; got "
                          f"{collapse}, {tolerance}, {min_drop}")
    pts = sorted(zip((int(x) for x in layers), (float(s) for s in scores), strict=True))
    if len(pts) < 2:
        raise ConfigError(f"calibration needs at least 2 probe points, got {len(pts)}")
    xs = [x for x, _ in pts]
    if len(set(xs)) != len(xs) or xs[0] < 1 or xs[-1] > L:
        raise ConfigError(f"probe layers must be distinct and in 1..{L} (first layer without the tokens), got {xs}")
    notes: list[str] = []
    fit = isotonic([s for _, s in pts])
    if acc_full is None:
        acc_full = max(fit)
        notes.append(f"no full-token score in the probe: acc_full = max smoothed score {acc_full:g}")
    if not acc_full > 0:
        raise ConfigError(f"full-token accuracy must be > 0 to form relative accuracy, got {acc_full}")
    rel = [v / acc_full for v in _interpolate(xs, fit, L)]
    floor = rel[0]
    span = 1.0 - floor
    if span < min_drop:
        raise ConfigError(
            f"no measurable collapse: removing the tokens before the LLM keeps {floor:.3f} of the full "
            f"accuracy (drop {span:.3f} < min_drop {min_drop}); probe more samples or a trained checkpoint"
        )
    g = [min(1.0, max(0.0, (a - floor) / span)) for a in rel]
    below = [x for x in range(1, L + 1) if g[x - 1] < collapse]
    L_s = max(below)
    ok = [rel[x - 1] >= 1.0 - tolerance for x in range(1, L + 1)]
    L_l = L
    while L_l > 1 and ok[L_l - 2]:
        L_l -= 1
    if not ok[L - 1]:
        notes.append(f"the curve never comes within {tolerance} of full accuracy: L_l = L = {L}")
    if L_l <= L_s:  # non-decreasing fit: only possible when the collapse region ends at L
        notes.append(f"no recovery after the collapse region (L_s = {L_s}); L_l set to L_s + 1")
        L_l = L_s + 1
    if L_l - L_s < 4:
        want = L_s + 4
        new_l = min(L, want)
        new_s = new_l - 4
        notes.append(f"middle block ({L_s}, {L_l}) has < 3 layers: widened to ({new_s}, {new_l})")
        L_s, L_l = new_s, new_l
    M = L_l - L_s - 1
    if split == "equal":
        n1, n2, _ = _equal_split(M)
        L_m1, L_m2 = L_s + 1 + n1, L_s + 1 + n1 + n2
    else:
        lo, hi = rel[L_s - 1], rel[L_l - 1]
        h = {x: (rel[x - 1] - lo) / (hi - lo) if hi > lo else 1.0 for x in range(L_s + 1, L_l)}
        L_m1 = next((x for x in range(L_s + 1, L_l) if h[x] >= 1 / 3), L_s + 2)
        L_m1 = min(max(L_m1, L_s + 2), L_l - 2)
        L_m2 = next((x for x in range(L_m1 + 1, L_l) if h[x] >= 2 / 3), L_m1 + 1)
        L_m2 = min(max(L_m2, L_m1 + 1), L_l - 1)
    b = check_boundaries((L_s, L_m1, L_m2, L_l), L)
    params = {"collapse": collapse, "tolerance": tolerance, "min_drop": min_drop, "split": split}
    return Calibration(boundaries=(b[0], b[1], b[2], b[3]), num_layers=L, acc_full=float(acc_full),
                       floor=floor, relative=rel, progress=g, params=params, notes=notes)


# ----------------------------------------------------------------------------- probe files


def load_probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A probe.json written by `seats-eval probe`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"probe file {path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"probe file {path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or "points" not in data or "num_layers" not in data:
        raise ConfigError(f"probe file {path}: expected a `seats-eval probe` result with points and num_layers")
    return data


def probe_curve(probe: Mapping[str, Any], modality: str = "both") -> tuple[list[int], list[float], float | None]:
    """(x, score, acc_full) of one modality's curve; x = first 1-based layer without the tokens."""
    pts = [p for p in probe["points"] if p.get("modality") == modality and p.get("score") is not None]
    if not pts:
        have = sorted({p.get("modality") for p in probe["points"]})
        raise ConfigError(f"the probe has no finished points for modality {modality!r} (has: {have})")
    full = probe.get("full") or {}
    return ([int(p["layer"]) + 2 for p in pts], [float(p["score"]) for p in pts],
            None if full.get("score") is None else float(full["score"]))


def _raw_config(name_or_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(raw YAML mapping as written, loaded config) of a backbone config."""
    import yaml

    cfg = load_backbone_config(name_or_path)
    with open(cfg.path, encoding="utf-8") as fh:
        return yaml.safe_load(fh), cfg


def write_config(cal: Calibration, base: str, out: str | os.PathLike[str], *, source: str = "",
                 name: str | None = None, lam: float | None = None) -> Path:
    """Write a model_configs YAML: the base config's keys with the calibrated boundaries
    (lam, tau and everything else kept unless `lam` is given) plus a `calibration` record.
    The result must build a SEATS schedule: Appendix A's delta >= 0 needs
    lam >= L / (L_l - 1), so an early L_l may need a larger lam (ConfigError says which).
    Atomic; returns the path."""
    import yaml

    raw, cfg = _raw_config(base)
    if cfg.num_layers != cal.num_layers:
        raise ConfigError(f"base config {base} has {cfg.num_layers} layers but the probe has {cal.num_layers}")
    raw = dict(raw)
    old = list(raw.get("boundaries", []))
    raw["boundaries"] = list(cal.boundaries)
    if lam is not None:
        raw["lam"] = float(lam)
    if name:
        raw["backbone"] = name
    L, L_l = cal.num_layers, cal.boundaries[3]
    try:  # a small budget, so only the geometry and lam are tested, not lam * R <= 1
        build_schedule(Budget(0.1, 0.1, 0.1, "both"), replace(cfg, boundaries=cal.boundaries, lam=float(raw["lam"])))
    except ConfigError as exc:
        raise ConfigError(f"calibrated boundaries {cal.boundaries} do not give a SEATS schedule with "
                          f"lam={raw['lam']} (needs lam >= L / (L_l - 1) = {L / (L_l - 1):.4f}); "
                          f"pass --lam: {exc}") from exc
    raw["calibration"] = {
        "source": str(source), "base_config": str(base), "base_boundaries": old,
        "rule": "seats_eval.backbones.calibrate (see its docstring)", **cal.params,
        "acc_full": cal.acc_full, "floor": round(cal.floor, 6), "notes": cal.notes,
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Generated by `seats-eval calibrate` from {source or 'a probe'}; base config {base}.\n"
              f"# Boundaries (L_s, L_m1, L_m2, L_l) = {tuple(cal.boundaries)} (1-based, as in Table 2).\n")
    write_text_atomic(path, header + yaml.safe_dump(raw, sort_keys=False))
    return path
