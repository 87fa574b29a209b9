"""The authors' selection rules (xxayt/SEATS @ c553732), for `profile=official`.

The paper's prose and the authors' code differ in rules that change which tokens survive
(docs/profiles.md lists them side by side). `profile=paper` uses the exact-total rules of
select/allocation.py and select/diversity.py; `profile=official` uses the functions here,
written from the reference notes (../shared/reference/seats_official.md) and checked on the
examples of issue 15 (tests/test_official.py). Pure tensor code, no model imports.

What they decide, rule by rule (numbers as in docs/profiles.md):
1. `run_windows`: Stage II windows are the maximal contiguous runs of each modality in the
   current sequence; the i-th video run pairs with the i-th audio run.
3. `allocate`: the combined budget per window from the mean of two softmaxes, fixed one
   token at a time, split by "effective demand", then >= 1 fix-ups; no exact per-modality
   totals.
4. `chained_count`: Stage II counts on the tokens left, with keep ratios rounded to 4
   decimals (`keep_ratios`).
5.-6. Stage I (`tile_counts`, `tile_windows`, `maxmin_tiles`): in select/diversity.py, the
   Stage I module.
9. `audio_intact_reallocate`: an audio-intact method's per-sample (R_v, R_a).
10. `visionzip_counts`, `floor_count`: VisionZip-om's and Random's integer rules
    (13: VisionZip's products in float32, as their tensor arithmetic makes them).
14. `script_pair`: the (R_v, R_a) their Qwen3 scripts pass to Random and VisionZip.
15. `gate_prunes`: their thinker's gate (nothing is pruned unless some lam R_m < 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seats_eval.errors import ConfigError

MIN_VIDEO_RATIO = 0.05  # audio_intact_reallocate's video_ratio_min


# -- Stage II ------------------------------------------------------------------------------
def keep_ratios(levels: tuple[float, ...]) -> tuple[float, ...]:
    """keep_i = round(level_i / level_{i-1}, 4) of the middle sub-blocks (0 when the level
    before is 0)."""
    return tuple(round(b / a, 4) if a > 0 else 0.0 for a, b in zip(levels[:-1], levels[1:], strict=True))


def chained_count(keep: float, n: int) -> int:
    """Tokens a Stage II step keeps of a modality with n tokens left: max(1, round(keep * n))."""
    return max(1, round(keep * n)) if n > 0 else 0


def run_windows(modality: Tensor, video: int, audio: int) -> tuple[Tensor, int]:
    """(window id per position (S,), -1 off media; number of windows) from the maximal
    contiguous runs of each modality: video run i and audio run i form window i, surplus
    runs of one modality are windows of their own (so run index = window index)."""
    win = torch.full_like(modality, -1)
    n_windows = 0
    for mod in (video, audio):
        member = modality == mod
        start = member & ~torch.cat([member.new_zeros(1), member[:-1]])
        run = torch.cumsum(start.long(), 0) - 1
        win = torch.where(member, run, win)
        n_windows = max(n_windows, int(start.sum()))
    return win, n_windows


def allocate(p_v: Tensor, p_a: Tensor, n_v: Tensor, n_a: Tensor, K_v: int, K_a: int,
             tau: float) -> tuple[Tensor, Tensor]:
    """Per-window (B_v, B_a), long CPU tensors (W,), as the authors allocate them.

    p_v, p_a: mean score of each window's video / audio tokens (0 where none), n_v, n_a:
    tokens per window. wv, wa = softmax over ALL windows of p / tau (fp32);
    B_t = min(max(1, round((wv + wa) / 2 * Kc)), n_v + n_a), then one token at a time:
    surplus off the largest B_t > 1, deficit onto the smallest B_t below its cap (first
    index on ties; stop when none is eligible). Split: vfrac = wv Kv / (wv Kv + wa Ka +
    1e-12), B_v = min(round(B_t vfrac), n_v), B_a = min(B_t - B_v, n_a), leftover to video,
    then audio; then a window with video but B_v < 1 gets 1 (and its B_a is recomputed when
    > 1), the same for audio. Per-modality totals are not enforced."""
    wv = F.softmax(p_v.float() / max(tau, 1e-4), dim=0).cpu()
    wa = F.softmax(p_a.float() / max(tau, 1e-4), dim=0).cpu()
    nv, na = n_v.cpu().long(), n_a.cpu().long()
    cap = nv + na
    Kc = int(K_v) + int(K_a)
    B = torch.min((((wv + wa) / 2.0) * Kc).round().long().clamp(min=1), cap)
    # The authors' loop, one token per pass; the passes are bounded by W (rounding) on the
    # host, on W-long CPU tensors: no device work.
    diff = int(B.sum()) - Kc
    while diff != 0:
        if diff > 0:
            ok = B > 1
            if not bool(ok.any()):
                break
            B[torch.where(ok, B, torch.full_like(B, -1)).argmax()] -= 1
        else:
            ok = B < cap
            if not bool(ok.any()):
                break
            B[torch.where(ok, B, torch.full_like(B, int(cap.max()) + 1)).argmin()] += 1
        diff = int(B.sum()) - Kc
    v_share, a_share = wv * int(K_v), wa * int(K_a)
    vfrac = v_share / (v_share + a_share + 1e-12)
    vb = torch.min((B.float() * vfrac).round().long().clamp(min=0), nv)
    ab = torch.min((B - vb).clamp(min=0), na)
    rest = B - vb - ab
    extra = torch.min(rest.clamp(min=0), (nv - vb).clamp(min=0))
    vb, rest = vb + extra, rest - extra
    ab = ab + torch.min(rest.clamp(min=0), (na - ab).clamp(min=0))
    fix_v = (nv > 0) & (vb < 1)
    vb = torch.where(fix_v, torch.ones_like(vb), vb)
    ab = torch.where(fix_v & (ab > 1), torch.min(na, (B - vb).clamp(min=0)).clamp(min=1), ab)
    fix_a = (na > 0) & (ab < 1)
    ab = torch.where(fix_a, torch.ones_like(ab), ab)
    vb = torch.where(fix_a & (vb > 1), torch.min(nv, (B - ab).clamp(min=0)).clamp(min=1), vb)
    return vb, ab


# -- baselines -----------------------------------------------------------------------------
def audio_intact_reallocate(r_v: float, r_a: float, n_v: int, n_a: int,
                            r_v_min: float = MIN_VIDEO_RATIO) -> tuple[float, float]:
    """Per-sample (R_v, R_a) of an audio-intact method from a both-selected pair: the same
    int(n_v r_v + n_a r_a) tokens, audio whole when video keeps >= r_v_min, else video at
    r_v_min and audio takes the rest; a ratio above 1 is clamped and its excess moved."""
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


def visionzip_counts(w: int, ratio: float, context: float) -> tuple[int, int]:
    """(dominant, contextual) tokens of one VisionZip window of w tokens:
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


def floor_count(ratio: float, n: int) -> int:
    """Random's count: max(int(ratio * n), 1), at most n (0 for ratio 0 or no tokens)."""
    if n <= 0 or ratio <= 0:
        return 0
    return min(max(int(ratio * n), 1), n)


# (backbone, method) -> R -> (R_v, R_a) their scripts pass where it is not Table 7's
# both-selected pair of the backbone: scripts/eval_qwen3_omni_random.sh passes the Qwen2.5
# pairs, scripts/eval_qwen3_omni_visionzip.sh audio-intact starts (it runs no R = 0.10).
SCRIPT_PAIRS: dict[tuple[str, str], dict[float, tuple[float, float]]] = {
    ("qwen3_omni_30b_a3b", "random"): {0.35: (0.30, 0.65), 0.25: (0.20, 0.55), 0.15: (0.10, 0.45),
                                        0.10: (0.06, 0.35)},
    ("qwen3_omni_30b_a3b", "visionzip"): {0.35: (0.29, 1.0), 0.25: (0.18, 1.0), 0.15: (0.08, 1.0)},
}


def script_pair(backbone: str, method: str, R: float) -> tuple[float, float] | None:
    """The (R_v, R_a) the authors' script for `method` on `backbone` (a normalised name)
    passes at R, where it departs from Table 7; None where it does not (or they ran no R)."""
    for r_key, pair in SCRIPT_PAIRS.get((backbone, method), {}).items():
        if abs(r_key - float(R)) <= 1e-9:
            return pair
    return None


def gate_prunes(lam: float, r_v: float, r_a: float) -> bool:
    """Whether the authors' SEATS thinker prunes at all: only when some Stage I ratio
    lam * R_m (their `video_ratio * encoder_ratio_scale`) is below 1. Otherwise no stage
    runs, Stage II and III included (R_v = R_a = 1 / 1.4 is full tokens there)."""
    return float(r_v) * float(lam) < 1.0 or float(r_a) * float(lam) < 1.0
