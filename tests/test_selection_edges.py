"""What is selected, on synthetic layouts: the cases that surviving mutants showed unchecked
(docs/testing.md lists them). Stage I attention weighting and the ablation paths through the
method itself, and the edges of the official rules and of the selection kernels."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.errors import ConfigError
from seats_eval.layout import AUDIO, TEXT, VIDEO
from seats_eval.methods import build_method
from seats_eval.methods.base import DropStep, EncoderSignals, Plan, PreLLMContext
from seats_eval.methods.common import floor_count
from seats_eval.methods.seats import chained_count
from seats_eval.methods.visionzip import visionzip_counts
from seats_eval.select import checks, cosine_distance, global_topk, topk_per_window, weighted_maxmin
from seats_eval.select.allocation import allocate_combined
from seats_eval.select.diversity import tile_windows

from .test_official import _layout, _stage1

Q7B = load_backbone_config("qwen2.5-omni-7b")
TINY = load_backbone_config("tiny")


def _weighted_ctx(lay, heavy: torch.Tensor, seed: int = 0) -> PreLLMContext:
    """Random embeddings; each `heavy` position is a near twin of the token before it (so
    plain max-min passes it over) and carries 1e4 times the encoder attention of the rest."""
    g = torch.Generator().manual_seed(seed)
    embeds = torch.randn(lay.length, 16, generator=g)
    embeds[heavy] = embeds[heavy - 1] + 0.05 * torch.randn(heavy.numel(), 16, generator=g)
    attn = torch.ones(lay.length)
    attn[heavy] = 1e4
    sig = EncoderSignals(torch.where(lay.modality == VIDEO, attn, 0.0), torch.where(lay.modality == AUDIO, attn, 0.0))
    return PreLLMContext(embeds, lay, sig, "synthetic")


@pytest.mark.parametrize("profile", ["paper", "official"])
def test_stage1_keeps_the_tokens_the_encoder_attends_to(profile):
    lay = _layout([(288, 50)] * 3)
    pos = {m: torch.nonzero(lay.modality == m).flatten() for m in (VIDEO, AUDIO)}
    heavy = torch.cat([pos[VIDEO][[40, 300, 600]], pos[AUDIO][[10, 60, 120]]])  # one per window and modality
    ctx = _weighted_ctx(lay, heavy)
    opts = {"R": 0.1, "profile": profile}
    weighted = build_method("seats", Q7B, opts)
    keep = weighted.pre_llm(ctx, weighted.plan(lay.counts())).keep
    plain = build_method("seats", Q7B, {**opts, "attn_weighted": False})
    keep_plain = plain.pre_llm(ctx, plain.plan(lay.counts())).keep
    assert bool(keep[heavy].all())
    assert int(keep_plain[heavy].sum()) < heavy.numel()
    assert int(keep.sum()) == int(keep_plain.sum())  # same counts, other tokens


@pytest.mark.parametrize("profile", ["paper", "official"])
def test_stage1_random_keeps_winDivPrunes_counts_per_window(profile):
    lay = _layout([(288, 50)] * 3, trailing_audio=20)
    ctx = _weighted_ctx(lay, torch.tensor([5]))
    ref = build_method("seats", Q7B, {"R": 0.2, "profile": profile})
    rnd = build_method("seats", Q7B, {"R": 0.2, "profile": profile, "stage1": "random", "seed": 3})
    keep_ref = ref.pre_llm(ctx, ref.plan(lay.counts())).keep
    keep_rnd = rnd.pre_llm(ctx, rnd.plan(lay.counts())).keep
    for m in (VIDEO, AUDIO):
        a = torch.bincount(lay.window[keep_ref & (lay.modality == m)], minlength=lay.num_windows)
        b = torch.bincount(lay.window[keep_rnd & (lay.modality == m)], minlength=lay.num_windows)
        assert a.tolist() == b.tolist()
    assert not torch.equal(keep_ref, keep_rnd)
    assert torch.equal(keep_rnd, rnd.pre_llm(ctx, rnd.plan(lay.counts())).keep)  # seeded


@pytest.mark.parametrize("profile", ["paper", "official"])
def test_selection_global_is_one_topk_per_modality(profile):
    lay = _layout([(288, 50)] * 4)
    scores = torch.rand(lay.length, generator=torch.Generator().manual_seed(1))
    m = build_method("seats", Q7B, {"R": 0.35, "profile": profile, "selection": "global"})
    step = m.drop_steps(28)[0]
    keep = m.in_llm(step, scores, lay, m.plan(lay.counts()))
    v, a = lay.modality == VIDEO, lay.modality == AUDIO
    k_v, k_a = int((keep & v).sum()), int((keep & a).sum())
    assert torch.equal(keep, (lay.modality == TEXT) | global_topk(scores, v, k_v) | global_topk(scores, a, k_a))
    windowed = build_method("seats", Q7B, {"R": 0.35, "profile": profile})
    assert not torch.equal(keep, windowed.in_llm(step, scores, lay, windowed.plan(lay.counts())))


@pytest.mark.parametrize("switch", ["inter_window", "intra_window", "coupled"])
def test_official_allocation_ablations_keep_their_counts(switch):
    lay = _layout([(288, 50)] * 4)
    scores = torch.rand(lay.length, generator=torch.Generator().manual_seed(2))
    m = build_method("seats", Q7B, {"R": 0.35, "profile": "official", switch: False})
    keep = m.in_llm(m.drop_steps(28)[0], scores, lay, m.plan(lay.counts()))
    _, n_v, n_a = lay.counts()
    assert int((keep & (lay.modality == VIDEO)).sum()) == chained_count(m.keep["video"][0], n_v)
    assert int((keep & (lay.modality == AUDIO)).sum()) == chained_count(m.keep["audio"][0], n_a)


def test_options_reach_the_method():
    m = build_method("seats", TINY, {"R": 0.35, "lam": 1.5, "boundaries": "1-3-5-7", "profile": "paper"})
    assert m.schedule.lam == pytest.approx(1.5) and tuple(m.schedule.boundaries) == (1, 3, 5, 7)
    assert build_method("seats", TINY, {"R": 0.35, "stage1": "visionzip"}).needs_encoder_signals
    late = build_method("seats", TINY, {"R": 0.35, "late_removal": False, "profile": "paper"}).schedule
    assert late.video.trr[-1] == late.video.levels[-1] > 0
    assert build_method("seats", TINY, {"R": 0.35}).schedule.video.trr[-1] == 0
    alone = build_method("seats", TINY, {"R": 0.1, "stage2": False})
    assert alone.schedule.drop_after == () and alone.schedule.video.levels[0] == pytest.approx(0.1 * 8 / 6)
    with pytest.raises(ConfigError, match="tau"):
        build_method("seats", TINY, {"R": 0.35, "tau": 0})


# -- official rules: edges ---------------------------------------------------------------------
def test_official_count_edges():
    assert tile_windows(3, 1) == [1, 1, 1]
    assert chained_count(0.4, 1) == 1 and chained_count(0.4, 0) == 0
    assert floor_count(0.0, 10) == 0 and floor_count(0.05, 10) == 1
    assert visionzip_counts(10, 0.15, 0.05) == (1, 1)  # int(0.1 * 10) = 1 dominant


def test_official_maxmin_keeps_short_windows_whole_and_uses_weights():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 8, generator=g)
    assert _stage1(feats, None, [8, 4], [3, 4])[8:].all()
    feats[5] = feats[4] + 0.01 * torch.randn(8, generator=g)  # a near twin
    w = torch.ones(12)
    w[5] = 1e4
    assert bool(_stage1(feats, w, [8, 4], [2, 4])[5])
    assert not bool(_stage1(feats, None, [8, 4], [2, 4])[5])


def test_official_maxmin_first_pick_is_by_the_nearest_entry():
    # angles: a tight cluster, a tight pair opposite, and one token between them: that one is
    # the most isolated (its nearest other is farthest), though not the farthest from others
    ang = torch.tensor([0.0, 0.01, 0.02, 3.0, 3.01, 1.5])
    feats = torch.stack([ang.cos(), ang.sin()], dim=-1)[None]
    assert _stage1(feats[0], None, [6], [1]).nonzero().flatten().tolist() == [5]


def test_official_allocation_surplus_and_deficit():
    p = torch.tensor([0.4, 0.3, 0.2, 0.1])
    n = torch.tensor([10, 10, 10, 10])
    B_v, B_a = allocate_combined(p, p, n, n, 1, 1, 0.3)  # Kc = 2 < 4 windows: 1 each, then >= 1 per modality
    assert B_v.tolist() == B_a.tolist() == [1, 1, 1, 1]
    B_v, B_a = allocate_combined(p, p, n, n, 9, 8, 0.3)
    assert int((B_v + B_a).sum()) == 17
    one = torch.tensor([1, 10, 10, 10])  # a window with one video token gets it
    B_v, B_a = allocate_combined(torch.tensor([0.0, 0.5, 0.5, 0.5]), p, one, n, 4, 12, 0.01)
    assert int(B_v[0]) == 1 and int(B_v[0] + B_a[0]) >= 1


# -- kernels: edges ------------------------------------------------------------------------
def test_topk_rejects_bad_budgets_and_windows():
    s, m = torch.rand(6), torch.ones(6, dtype=torch.bool)
    with pytest.raises(ConfigError):
        topk_per_window(s, torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([1, -1, 1]), m)
    with pytest.raises(ConfigError):
        topk_per_window(s, torch.tensor([0, 0, 1, 1, 2, 3]), torch.tensor([1, 1, 1]), m)


def test_cosine_distance_ignores_the_scale_of_small_features():
    f = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(cosine_distance(f * 1e-3), cosine_distance(f), atol=1e-6, rtol=0)


def test_weighted_maxmin_with_nothing_to_keep():
    out = weighted_maxmin(torch.randn(3, 4, 5), torch.zeros(3, dtype=torch.long))
    assert out.shape == (3, 4) and not bool(out.any())
    assert weighted_maxmin(torch.randn(3, 0, 5), torch.zeros(3, dtype=torch.long)).shape == (3, 0)


def test_checks_modes():
    prev = checks.set_mode("0")
    try:
        assert not checks.enabled(torch.zeros(1))
        assert checks.set_mode("1") == "0" and checks.enabled(torch.zeros(1))
        with pytest.raises(ValueError):
            checks.set_mode("sometimes")
    finally:
        checks.set_mode(prev)


def test_a_step_without_scores_is_rejected():
    m = build_method("seats", TINY, {"R": 0.35, "profile": "paper"})
    lay = _layout([(288, 50)])
    with pytest.raises(AssertionError):
        m.in_llm(DropStep(1, "official", "stage2_1"), None, lay, Plan(lay.counts()))


def test_stage1_only_schedule():
    m = build_method("seats", TINY, {"R": 0.1, "stage2": False, "decay": "equal", "profile": "paper"})
    s = m.schedule
    r = 0.1 * 8 / 6  # R * L / (L_l - 1)
    assert s.budget == m.budget and s.decay == "equal" and s.late_after == 5
    for part in (s.video, s.audio):
        assert part.levels == pytest.approx((r,) * 4) and part.steps == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("profile", ["paper", "official"])
@pytest.mark.parametrize("stage1", ["visionzip", "omnizip"])
def test_stage1_baseline_selectors_keep_seats_counts(profile, stage1):
    lay = _layout([(288, 50)] * 2)
    ctx = _weighted_ctx(lay, torch.tensor([5]))
    m = build_method("seats", Q7B, {"R": 0.2, "profile": profile, "stage1": stage1})
    ref = build_method("seats", Q7B, {"R": 0.2, "profile": profile})
    res = m.pre_llm(ctx, m.plan(lay.counts()))
    keep_ref = ref.pre_llm(ctx, ref.plan(lay.counts())).keep
    assert res.embeds is not None and res.embeds.shape == ctx.embeds.shape
    for mod in (VIDEO, AUDIO):
        assert int((res.keep & (lay.modality == mod)).sum()) == int((keep_ref & (lay.modality == mod)).sum())


def test_stage1_random_keeps_one_token_of_a_window_with_one():
    lay = _layout([(288, 50), (288, 1)])
    assert lay.window_counts(AUDIO).tolist() == [50, 1]
    m = build_method("seats", Q7B, {"R": 0.1, "profile": "paper", "stage1": "random"})  # < 26 of 51 audio
    keep = m.pre_llm(_weighted_ctx(lay, torch.tensor([5])), m.plan(lay.counts())).keep
    assert torch.bincount(lay.window[keep & (lay.modality == AUDIO)], minlength=2).tolist()[1] == 1


def test_official_allocation_fills_a_rounding_deficit_one_token_at_a_time():
    n, none = torch.full((3,), 10), torch.zeros(3, dtype=torch.long)
    # S_t = (softmax(p_v / 0.3) + 1/3) / 2 = (0.6, 0.2, 0.2); 7 S_t rounds to (4, 1, 1): one short,
    # given to the smallest window (first index on ties)
    B_v, B_a = allocate_combined(torch.tensor([0.7695, 0.0, 0.0]), torch.zeros(3), n, none, 7, 0, 0.3)
    assert B_v.tolist() == [4, 2, 1] and B_a.tolist() == [0, 0, 0]


def test_official_allocation_gives_back_audio_for_a_video_fix_up():
    # window 0: B_t = 2, its video relevance ~0 -> split (0, 2); the video fix-up takes one audio
    B_v, B_a = allocate_combined(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([10, 10]),
                            torch.tensor([10, 10]), 2, 6, 0.01)
    assert (int(B_v[0]), int(B_a[0])) == (1, 1)
