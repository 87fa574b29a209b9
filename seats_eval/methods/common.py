"""Shared budget parsing and exact-budget helpers of the methods.

Every method but `full` and `remove_at` takes the common options R, mode, R_v, R_a
(`parse_budget`, read through methods/options.py) plus its own; the per-modality token
target is round(R_m * N_m) (at least 1 for a non-empty modality), split over frames or
windows with `split_exact` so the total is exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..budgets import Budget, resolve_budget, round_count, split_budget
from ..config import BackboneConfig
from ..errors import ConfigError, SeatsError
from ..layout import AUDIO, TokenLayout
from ..select import apportion
from .options import BUDGET_RULES, Options

BUDGET_OPTIONS = {"R", "mode", "R_v", "R_a", "profile"}  # profile: read by `Options.profile`
MIN_VIDEO_RATIO = 0.05  # audio_intact_reallocate's video_ratio_min (the authors')


def parse_budget(opts: Options, cfg: BackboneConfig, default_mode: str) -> Budget:
    """Budget from R / mode / R_v / R_a (mode defaults to the method's Table 7 mode)."""
    rules = BUDGET_RULES
    R = opts.get("R", rules["R"])
    n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
    mode = opts.get("mode", rules["mode"], default_mode)
    return resolve_budget(R, mode, n_v, n_a, R_v=opts.get("R_v", rules["R_v"], None),
                          R_a=opts.get("R_a", rules["R_a"], None), backbone=cfg)


def intact_start(opts: Options, cfg: BackboneConfig, budget: Budget) -> tuple[float, float]:
    """The (R_v, R_a) an audio-intact method starts from under profile=official, before the
    per-sample `audio_intact_reallocate`: the authors' scripts pass Table 7's both-selected
    pair of R; an explicit R_v gives (R_v, 1)."""
    if "R_v" in opts or budget.R >= 1.0:
        return budget.R_v, budget.R_a
    return split_budget(budget.R, "both", cfg.video_tokens_per_window, cfg.audio_tokens_per_window, cfg)


def audio_intact_reallocate(r_v: float, r_a: float, n_v: int, n_a: int,
                            r_v_min: float = MIN_VIDEO_RATIO) -> tuple[float, float]:
    """profile=official: an audio-intact method's per-sample (R_v, R_a) from its start pair
    (`intact_start`): the same int(n_v r_v + n_a r_a) tokens, audio whole when video keeps
    >= r_v_min, else video at r_v_min and audio takes the rest; a ratio above 1 is clamped
    and its excess moved (docs/profiles.md rule 9)."""
    if n_a == 0:
        return float(r_v), float(r_a)
    if n_v <= 0:
        raise ConfigError("audio_intact_reallocate needs video tokens when there is audio")
    kept = int(n_v * float(r_v) + n_a * float(r_a))
    cand = (kept - n_a * 1.0) / n_v
    if cand < r_v_min:
        v, a = r_v_min, (kept - n_v * r_v_min) / n_a
    else:
        v, a = cand, 1.0
    if v > 1.0:
        v, a = 1.0, (kept - n_v * 1.0) / n_a
    if a > 1.0:
        v, a = (kept - n_a * 1.0) / n_v, 1.0
    return v, a


def script_pair(pairs: dict[str, dict[float, tuple[float, float]]], backbone: str,
                R: float) -> tuple[float, float] | None:
    """The (R_v, R_a) a method's table `pairs` (backbone -> R -> pair: what the authors'
    script for that backbone passes where it departs from Table 7) holds at R; None where it
    does not (or they ran no R)."""
    for r_key, pair in pairs.get(backbone, {}).items():
        if abs(r_key - float(R)) <= 1e-9:
            return pair
    return None


def target(ratio: float, n: int) -> int:
    """Tokens kept of a modality with n tokens: round(ratio * n), >= 1 when n > 0, <= n."""
    if n <= 0:
        return 0
    return min(n, max(1, round_count(ratio * n)))


def floor_count(ratio: float, n: int) -> int:
    """profile=official count (Random, leftover audio): max(int(ratio * n), 1), at most n
    (0 for ratio 0 or no tokens); `target` rounds instead."""
    if n <= 0 or ratio <= 0:
        return 0
    return min(max(int(ratio * n), 1), n)


def split_exact(sizes: Tensor, total: int, weights: Tensor | None = None, floor: Tensor | None = None) -> Tensor:
    """Integer parts of `total` over groups, proportional to `weights` (default: sizes),
    capped by the sizes, summing exactly to total (which must be <= sum(sizes)).

    Each non-empty group gets at least one token when the total allows it; `floor` adds
    further lower bounds (sum(floor) <= total is the caller's promise).
    """
    sizes = sizes.to(torch.long)
    total = int(total)
    if total > int(sizes.sum()) or total < 0:
        raise SeatsError(f"cannot keep {total} of {int(sizes.sum())} tokens")
    lo = torch.zeros_like(sizes)
    nonempty = sizes > 0
    if total >= int(nonempty.sum()):
        lo = nonempty.to(torch.long)
    if floor is not None:
        lo = torch.maximum(lo, floor.to(sizes))
        if int(lo.sum()) > total:
            raise SeatsError(f"floors {int(lo.sum())} exceed the budget {total}")
    w = (sizes if weights is None else weights).to(torch.float64)
    out = apportion(w, total, sizes, lo)
    assert int(out.sum()) == total
    return out


def random_keep(layout: TokenLayout, modality: int, k: int, seed: int) -> Tensor:
    """(S,) mask of k tokens of `modality` drawn uniformly (CPU generator seeded by `seed`)."""
    pos = torch.nonzero(layout.modality == modality).flatten()
    keep = torch.zeros(layout.length, dtype=torch.bool, device=layout.modality.device)
    if k <= 0 or pos.numel() == 0:
        return keep
    gen = torch.Generator(device="cpu").manual_seed(int(seed) + 7919 * int(modality))
    chosen = torch.randperm(pos.numel(), generator=gen)[:k].to(pos.device)
    keep[pos[chosen]] = True
    return keep


def audio_rest(layout: TokenLayout, budget: Budget, seed: int) -> Tensor:
    """Audio kept by a video-only method: all of it when R_a = 1, else a seeded uniform draw
    of round(R_a * N_a) tokens (what the reference code does when audio cannot stay intact)."""
    n_a = layout.count(AUDIO)
    if budget.R_a >= 1.0:
        return layout.modality == AUDIO
    return random_keep(layout, AUDIO, target(budget.R_a, n_a), seed)


def signal(signals: Any, name: str, method: str, sample: str) -> Tensor:
    """An encoder signal (S,) the method needs; a clear error when it was not captured."""
    value = getattr(signals, name, None) if signals is not None else None
    if value is None:
        raise SeatsError(f"{method}: needs encoder signal {name} but none was captured ({sample})")
    return value
