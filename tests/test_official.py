"""profile=official: one test per rule of issue 15 (docs/profiles.md), built from the issue's
examples, each also checking that the paper profile still gives today's result on the same
inputs. The numbers are the authors' rules worked by hand (../shared/reference/
seats_official.md), never outputs copied from a run of this code."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.budgets import layer_counts
from seats_eval.backbones.config import load_backbone_config
from seats_eval.layout import AUDIO, TEXT, VIDEO, build_layout, run_windows
from seats_eval.methods import build_method
from seats_eval.methods.base import DropStep, EncoderSignals, Plan, PreLLMContext
from seats_eval.methods.common import audio_intact_reallocate
from seats_eval.methods.seats import chained_count, gate_prunes
from seats_eval.methods.visionzip import visionzip_counts
from seats_eval.runtime.attention import last_row_attention
from seats_eval.select import weighted_maxmin
from seats_eval.select.allocation import allocate_combined
from seats_eval.select.diversity import (
    Tiling,
    authors_maxmin_windows,
    official_stage1,
    tile_counts,
    tile_windows,
)

Q7B = load_backbone_config("qwen2.5-omni-7b")
Q3 = load_backbone_config("qwen3-omni-30b-a3b")
V_ID, A_ID = 151656, 151646


def _stage1(feats: torch.Tensor, weights: torch.Tensor | None, sizes: list[int], counts: list[int]) -> torch.Tensor:
    """The official Stage I (the product path) on one modality whose tokens are all the rows."""
    return official_stage1(feats, [Tiling(torch.arange(feats.shape[0]), sizes, counts, weights)])


def _layout(blocks: list[tuple[int, int]], per_grid: int = 144, trailing_audio: int = 0,
            n_text: tuple[int, int] = (3, 4), spg: float = 1.0, audio_per_window: int = 50):
    """Text, then per block (video tokens, audio tokens), then the
    leftover audio as one run (the processor's layout when max_frames binds), then text."""
    ids = [1] * n_text[0]
    for n_v, n_a in blocks:
        ids += [V_ID] * n_v + [A_ID] * n_a
    ids += [A_ID] * trailing_audio + [2] * n_text[1]
    t = sum(n_v for n_v, _ in blocks) // per_grid
    side = {144: (24, 24), 3: (2, 6), 36: (12, 12)}[per_grid]
    return build_layout(torch.tensor(ids), video_token_id=V_ID, audio_token_id=A_ID,
                        video_grid_thw=torch.tensor([[t, *side]]), second_per_grid=spg,
                        audio_tokens_per_window=audio_per_window)


# -- rule 1: Stage II windows are contiguous runs -------------------------------------------
def test_rule1_windows_are_the_contiguous_runs_with_leftover_audio_as_one():
    lay = _layout([(288, 50)] * 7 + [(288, 0)], trailing_audio=250)
    win, W = run_windows(lay.modality)
    assert W == 8
    audio = lay.modality == AUDIO
    assert torch.bincount(win[audio], minlength=8).tolist() == [50] * 7 + [250]
    assert torch.bincount(win[lay.modality == VIDEO], minlength=8).tolist() == [288] * 8
    assert bool((win[lay.modality == TEXT] == -1).all())
    assert lay.num_windows == 12  # paper: 2-s windows by timestamp, four of them audio only


def test_rule1_surplus_runs_are_windows_of_their_own():
    mod = torch.tensor([0, 1, 1, 2, 1, 2, 2, 1, 1, 0])  # v a v a v: three video runs, two audio runs
    win, W = run_windows(mod)
    assert W == 3
    assert win.tolist() == [-1, 0, 0, 0, 1, 1, 1, 2, 2, -1]


def _stage2(profile: str, lay, scores, k_v: int, k_a: int, cfg=Q7B, **opts):
    """One Stage II step of SEATS with given keep counts: official through its keep ratios
    (set so round(keep * n) = k), paper through an explicit plan."""
    m = build_method("seats", cfg, {"R": 0.35, "profile": profile, **opts})
    _, n_v, n_a = lay.counts()
    step = m.drop_steps(cfg.num_layers)[0]
    if profile == "official":
        m.keep = {"video": (k_v / n_v if n_v else 0.0,) * 3, "audio": (k_a / n_a if n_a else 0.0,) * 3}
    plan = Plan(lay.counts(), ((lay.counts()[0], k_v, k_a),) * cfg.num_layers)
    return torch.nonzero(m.in_llm(step, scores, lay, plan)).flatten().tolist()


# -- rule 2: < 2 windows or a modality absent: global top-k --------------------------------
def test_rule2_a_modality_absent_means_global_topk():
    lay = _layout([(3, 0), (3, 0)], per_grid=3, n_text=(1, 1), spg=2.0)
    scores = torch.tensor([0, .9, .8, .7, .1, .05, .01, 0])
    assert lay.num_windows == 2  # two 2-s windows of video, no audio
    assert _stage2("official", lay, scores, 3, 0) == [0, 1, 2, 3, 7]
    assert _stage2("paper", lay, scores, 3, 0) == [0, 1, 2, 4, 7]  # today: per-window allocation


# -- rule 3: the authors' allocation -------------------------------------------------------
def test_rule3_deficit_goes_to_the_smallest_window_and_totals_drift():
    # equal scores: wv = wa = 1/3, Kc = 7, B_t = round(7/3) = 2 each, one short -> [3, 2, 2];
    # vfrac = 5/7: B_v = round(3*5/7, 2*5/7, 2*5/7) = [2, 1, 1], B_a = [1, 1, 1]
    z, n_v, n_a = torch.zeros(3), torch.tensor([4, 4, 4]), torch.tensor([2, 2, 2])
    B_v, B_a = allocate_combined(z, z, n_v, n_a, 5, 2, 0.1)
    assert B_v.tolist() == [2, 1, 1] and B_a.tolist() == [1, 1, 1]  # 4 != 5 video, 3 != 2 audio


def test_rule3_surplus_comes_off_the_largest_and_fixups_give_one():
    # Kc = 8, B_t = round(8/3) = 3 each, one too many -> [2, 3, 3]; vfrac = 6/8:
    # B_v = round(1.5, 2.25, 2.25) = [2, 2, 2], B_a = [0, 1, 1]; window 0 has audio and no
    # budget for it: B_a = 1 and B_v = max(1, min(4, 2 - 1)) = 1
    z, n_v, n_a = torch.zeros(3), torch.tensor([4, 4, 4]), torch.tensor([2, 2, 2])
    B_v, B_a = allocate_combined(z, z, n_v, n_a, 6, 2, 0.1)
    assert B_v.tolist() == [1, 2, 2] and B_a.tolist() == [1, 1, 1]


def test_rule3_paper_allocation_keeps_exact_totals_on_the_same_input():
    from seats_eval.select import allocate_budgets

    S = torch.full((3,), 1 / 3, dtype=torch.float64)
    B_v, B_a = allocate_budgets(S, S, torch.tensor([4, 4, 4]), torch.tensor([2, 2, 2]), 6, 2)
    assert int(B_v.sum()) == 6 and int(B_a.sum()) == 2


def test_rule3_windows_follow_the_scores():
    # the softmax of p / tau over ALL windows, then the same integer steps
    p_v, p_a = torch.tensor([0.02, 0.01, 0.0]), torch.tensor([0.0, 0.0, 0.03])
    n_v, n_a = torch.tensor([10, 10, 10]), torch.tensor([5, 5, 5])
    B_v, B_a = allocate_combined(p_v, p_a, n_v, n_a, 9, 3, 0.01)
    wv, wa = torch.softmax(p_v / 0.01, 0), torch.softmax(p_a / 0.01, 0)
    B = torch.round((wv + wa) / 2 * 12).long().clamp(min=1)
    assert int(B.sum()) == 12  # no fixing needed for these numbers
    assert (B_v + B_a).tolist() == B.tolist()
    assert int(B_v[0]) > int(B_v[1]) > 0 and int(B_a[2]) > int(B_a[0])


# -- rule 4: counts chained on what is left -------------------------------------------------
def test_rule4_keep_ratios_and_chained_counts():
    m = build_method("seats", Q7B, {"R": 0.35, "profile": "official"})
    assert m.keep["video"] == (0.9298, 0.7949, 0.2986) == m.keep["audio"]
    m3 = build_method("seats", Q3, {"R": 0.35, "profile": "official"})
    assert m3.keep["video"] == (0.9255, 0.7813, 0.239)
    # paper counts are fractions of the original N; official chain on the counts left
    differ = 0
    for n in range(4000, 4100):
        paper = layer_counts(m.schedule, n, 0)["video"]
        chain = [paper[0]]
        for k in m.keep["video"]:
            chain.append(chained_count(k, chain[-1]))
        levels = [paper[0]] + [paper[a + 1] for a in m.schedule.drop_after]
        differ += levels != chain
    assert 10 < differ < 90  # "differs by 1 token in ~30% of rows"
    assert chained_count(0.2986, 0) == 0 and chained_count(0.0001, 3) == 1


# -- rule 5: Stage I counts per window, Python round on the raw product ---------------------
def test_rule5_stage1_counts_round_the_raw_product_per_window():
    ratio = 0.65 * 1.4  # = 0.9099999999999999: 50 * ratio = 45.4999...
    assert tile_counts([50, 50, 20], ratio) == [45, 45, 18]
    m = build_method("seats", Q7B, {"R": 0.35, "profile": "paper"})
    assert layer_counts(m.schedule, 0, 50)["stage1"]["audio"] == 46  # paper: 9-decimal pre-round
    assert tile_windows(620, 288) == [288, 288, 44]
    with pytest.raises(Exception, match="assert"):
        tile_counts([10], 1.05)


# -- rule 6: unclamped 1 - cos ------------------------------------------------------------
def test_rule6_bit_identical_tokens_order_as_the_authors_code():
    a, b = torch.tensor([1.0, 4.0, 1.0]), torch.tensor([1.0, 2.0, 2.0])
    f = torch.stack([a, a, a, b, b])
    assert _stage1(f, torch.ones(5), [5], [3]).nonzero().flatten().tolist() == [0, 3, 4]
    assert authors_maxmin_windows(f, torch.ones(5), [5], [3]).nonzero().flatten().tolist() == [0, 3, 4]
    paper = weighted_maxmin(f[None], torch.tensor([3]), torch.ones(1, 5))
    assert paper[0].nonzero().flatten().tolist() == [0, 1, 3]


def test_rule6_windows_batch_by_size_and_count_and_match_one_by_one():
    g = torch.Generator().manual_seed(3)
    feats, w = torch.randn(120, 16, generator=g), torch.rand(120, generator=g)
    sizes, counts = [50, 50, 20], [7, 7, 3]
    keep = _stage1(feats, w, sizes, counts)
    for s, n, k in ((0, 50, 7), (50, 50, 7), (100, 20, 3)):
        one = _stage1(feats[s:s + n], w[s:s + n], [n], [k]).nonzero().flatten() + s
        assert keep[s:s + n].nonzero().flatten().add(s).tolist() == one.tolist()
    assert int(keep.sum()) == 17


# -- rule 7: Qwen3 geometry -----------------------------------------------------------------
def test_rule7_qwen3_tau_and_windows_come_from_the_yaml():
    m = build_method("seats", Q3, {"R": 0.35})  # the model ids' default profile
    assert m.profile == "official" and m.tau == 0.3 and m.signal_audio_window == 52
    assert build_method("seats", Q3, {"R": 0.35, "profile": "paper"}).tau == 0.1
    assert build_method("seats", Q3, {"R": 0.35, "profile": "paper"}).signal_audio_window is None
    lay = _layout([(288, 26)] * 4, audio_per_window=26)
    sizes, _ = m._tiles(lay, AUDIO, lay.count(AUDIO))
    assert sizes == [50, 50, 4]  # 104 audio tokens in 50-token tiles, not the 26-token windows
    assert m._tiles(lay, VIDEO, lay.count(VIDEO))[0] == [288] * 4


def test_rule7_qwen3_audio_statistics_use_52_frame_windows(thinker3, make_inputs3):
    from seats_eval.adapters import make_adapter
    from seats_eval.runtime.signals import encode_with_signals

    adapter = make_adapter(thinker3)
    inputs = make_inputs3("av_long.mp4")
    feats = encode_with_signals(adapter, inputs, audio_window=52)
    n = feats.audio_recv.numel()
    assert feats.audio_window == 52 and n > 52
    # attention received summed over a window = its number of queries: the windows are 52
    sums = [float(feats.audio_recv[s:s + 52].sum()) for s in range(0, n, 52)]
    assert sums == pytest.approx([min(52, n - s) for s in range(0, n, 52)], rel=1e-4)
    chunks = encode_with_signals(adapter, inputs).audio_recv  # default: the encoder's own chunks
    assert not torch.allclose(chunks, feats.audio_recv)


# -- rule 8: scores in the model's dtype ----------------------------------------------------
def test_rule8_authors_scores_in_model_dtype():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, 1, 16, generator=g).bfloat16()
    k = torch.randn(1, 2, 30, 16, generator=g).bfloat16()
    got = last_row_attention(q, k, 16**-0.5, model_dtype=True)
    k_rep = k.repeat_interleave(2, dim=1)
    want = torch.softmax(torch.matmul(q, k_rep.transpose(-1, -2)) / 16**0.5, dim=-1).mean(dim=1)[:, 0]
    assert got.dtype == torch.bfloat16 and torch.equal(got, want)
    assert last_row_attention(q, k, 16**-0.5).dtype == torch.float32
    steps = build_method("seats", Q7B, {"R": 0.35}).drop_steps(28)
    assert [s.model_dtype for s in steps] == [True, True, True, False]
    assert not any(s.model_dtype for s in build_method("seats", Q7B, {"R": 0.35, "profile": "paper"}).drop_steps(28))
    [fv] = build_method("fastv", Q7B, {"R": 0.35}).drop_steps(28)
    assert fv == DropStep(1, "same_layer", "fastv", model_dtype=True)
    [fv] = build_method("fastv", Q7B, {"R": 0.35, "profile": "paper"}).drop_steps(28)
    assert fv == DropStep(1, "attention", "fastv", model_dtype=False)


# -- rule 9: audio-intact R_v re-derived per sample ------------------------------------------
def test_rule9_fastv_reallocates_per_sample():
    assert build_method("fastv", Q7B, {"R": 0.35}).targets(4608, 800) == (832, 800)
    assert build_method("fastv", Q7B, {"R": 0.35, "profile": "paper"}).targets(4608, 800) == (822, 800)
    # video at its floor: audio gives the rest, then drawn at random
    assert audio_intact_reallocate(0.10, 0.45, 1000, 1000) == pytest.approx((0.05, 0.5))
    assert audio_intact_reallocate(0.3, 0.65, 100, 0) == (0.3, 0.65)


def test_rule9_visionzip_audio_intact_reallocates_per_sample():
    lay = _layout([(288, 50)] * 4)
    vz = build_method("visionzip", Q7B, {"R": 0.35})
    r_v, r_a = audio_intact_reallocate(*vz.start, 1152, 200)
    assert vz.start == (0.30, 0.65) and r_a == 1.0
    keep = vz.pre_llm(_ctx(lay), Plan(lay.counts())).keep
    assert int((keep & (lay.modality == AUDIO)).sum()) == 200
    dom, ctx = visionzip_counts(144, r_v, 0.05)
    assert int((keep & (lay.modality == VIDEO)).sum()) == 8 * (dom + ctx)


# -- rule 10: VisionZip-om and Random counts -------------------------------------------------
def _ctx(lay, seed: int = 0) -> PreLLMContext:
    g = torch.Generator().manual_seed(seed)
    embeds = torch.randn(lay.length, 8, generator=g)
    sig = EncoderSignals(torch.rand(lay.length, generator=g), torch.rand(lay.length, generator=g))
    return PreLLMContext(embeds, lay, sig, "synthetic")


def test_rule10_visionzip_om_counts_per_grid_and_audio_tile():
    assert visionzip_counts(144, 0.30, 0.05) == (36, 7)
    assert visionzip_counts(50, 0.65, 0.05) == (30, 2)
    lay = _layout([(288, 50)] * 4)
    keep = build_method("visionzip_om", Q7B, {"R": 0.35}).pre_llm(_ctx(lay), Plan(lay.counts())).keep
    per_grid = torch.bincount(lay.frame[keep & (lay.modality == VIDEO)], minlength=8)
    assert per_grid.tolist() == [43] * 8
    assert torch.bincount(lay.window[keep & (lay.modality == AUDIO)], minlength=4).tolist() == [32] * 4
    paper = build_method("visionzip_om", Q7B, {"R": 0.35, "profile": "paper"})
    keep = paper.pre_llm(_ctx(lay), Plan(lay.counts())).keep
    per_grid = torch.bincount(lay.frame[keep & (lay.modality == VIDEO)], minlength=8)
    assert set(per_grid.tolist()) == {43, 44} and int(per_grid.sum()) == round(0.30 * 1152)


def test_rule10_random_floors_its_count():
    lay = _layout([(288, 50)] * 32)
    assert lay.count(VIDEO) == 9216
    opts = {"R": 0.10, "R_v": 0.06, "R_a": 0.35}
    keep = build_method("random", Q7B, opts).pre_llm(_ctx(lay), Plan(lay.counts())).keep
    assert int((keep & (lay.modality == VIDEO)).sum()) == 552
    keep = build_method("random", Q7B, {**opts, "profile": "paper"}).pre_llm(_ctx(lay), Plan(lay.counts())).keep
    assert int((keep & (lay.modality == VIDEO)).sum()) == 553


# -- the profile as an option ----------------------------------------------------------------
def test_every_method_takes_the_profile_and_checks_it():
    from seats_eval.errors import ConfigError
    from seats_eval.methods import METHOD_IDS

    for mid in METHOD_IDS:
        if mid == "remove_at":
            continue
        opts = _minimal_options(mid)
        build_method(mid, Q7B, {**opts, "profile": "paper"})
        with pytest.raises(ConfigError, match="profile"):
            build_method(mid, Q7B, {**opts, "profile": "authors"})


def _minimal_options(mid: str) -> dict:
    if mid == "remove_at":
        return {"layer": 0}
    if mid == "omnizip":
        return {"R": 0.35, "R_v": 0.25, "R_a": 0.25}
    return {} if mid == "full" else {"R": 0.35, **({"R_v": 0.25} if mid == "dycoke" else {})}


def test_no_method_class_has_a_profile_default_other_than_its_builders():
    # the trap of issue 24: every class defaulted to paper while its builder defaulted to official
    import inspect

    from seats_eval.methods import METHOD_IDS
    from seats_eval.methods.base import Method
    from seats_eval.methods.options import DEFAULT_PROFILE

    assert Method.profile == DEFAULT_PROFILE == "official" and Method().profile == DEFAULT_PROFILE
    for mid in METHOD_IDS:
        built = build_method(mid, Q7B, _minimal_options(mid))
        assert built.profile == DEFAULT_PROFILE, mid
        for cls in type(built).__mro__:
            init = cls.__dict__.get("__init__")
            param = inspect.signature(init).parameters.get("profile") if init else None
            if param is not None:
                assert param.default == DEFAULT_PROFILE, (mid, cls.__name__)
        if mid != "remove_at":  # a built method records the profile it was given
            assert build_method(mid, Q7B, {**_minimal_options(mid), "profile": "paper"}).profile == "paper", mid


def test_a_method_built_directly_checks_its_profile():
    from seats_eval.errors import ConfigError
    from seats_eval.methods.random import RandomSelect

    budget = build_method("random", Q7B, {"R": 0.35}).budget
    assert RandomSelect(budget).profile == "official"
    with pytest.raises(ConfigError, match="profile='authors'"):
        RandomSelect(budget, profile="authors")


def test_official_seats_end_to_end_counts(thinker, make_inputs):
    """The default (official) SEATS on the tiny model: Stage I keeps round(lam R w) per tile,
    each Stage II step at most max(1, round(keep * n)) + the >= 1 fix-ups, late removal."""
    from seats_eval.driver import generate

    tiny = load_backbone_config("tiny")
    m = build_method("seats", tiny, {"R": 0.35})
    res = generate(thinker, make_inputs("av_long.mp4"), m, max_new_tokens=1)
    rec = res.record
    n_t, n_v, n_a = rec.input_counts
    for step in rec.steps:
        assert step["counts"][0] == n_t
    grid = make_inputs("av_long.mp4")["video_grid_thw"].reshape(-1).tolist()
    lay_tpg = grid[1] * grid[2] // 4
    want_v = sum(tile_counts(tile_windows(n_v, 2 * lay_tpg), m.schedule.video.levels[0]))
    want_a = sum(tile_counts(tile_windows(n_a, 50), m.schedule.audio.levels[0]))
    assert rec.llm_input_counts == (n_t, want_v, want_a)
    assert rec.layer_counts[-1] == (n_t, 0, 0)
    assert [s["name"] for s in rec.steps] == ["stage2_1", "stage2_2", "stage2_3", "late"]


def test_model_ids_default_to_the_official_profile(tiny_dir, clips_dir):
    # the model id with no profile option runs `official`: Random keeps max(int(R N), 1)
    from seats_eval.models.ids import Model_random_qwen25omni

    from .chat import chat_request

    model = Model_random_qwen25omni(pretrained=str(tiny_dir), R=0.3)
    assert model.method.profile == "official"
    model.task_dict = {"seats_fixture_mcq": {"test": {0: {}}}}
    model.generate_until([chat_request(clips_dir / "av_long.mp4", max_new_tokens=1)])
    rec = model.records[-1]
    _, n_v, n_a = rec["input_counts"]
    _, k_v, k_a = rec["llm_input_counts"]
    assert (k_v, k_a) == (max(int(0.3 * n_v), 1), max(int(0.3 * n_a), 1))
    assert (k_v, k_a) != (round(0.3 * n_v), round(0.3 * n_a))  # the clip tells the profiles apart


# -- issue 27: the last four departures (docs/profiles.md rules 13-15 and the statistic row) ------------------------
def _float64_visionzip(w: int, ratio: float, context: float = 0.05) -> int:
    """Total kept by a VisionZip group when the products are float64 (our old rule)."""
    dom = min(max(int((ratio - context) * w), 1), w)
    return dom + min(max(round(context * w), 1), w - dom)


def test_rule13_visionzip_counts_multiply_in_float32_as_the_authors_tensors():
    import numpy as np

    assert visionzip_counts(100, 0.12, 0.05) == (7, 5)  # 12 there; float64 gives 6 + 5
    assert _float64_visionzip(100, 0.12) == 11
    assert sum(visionzip_counts(20, 0.6, 0.05)) == 12 and _float64_visionzip(20, 0.6) == 11
    # every ratio their scripts pass (Table 7 pairs of both backbones, the Qwen3 VisionZip
    # starts) against numpy's float32 products: 17 of the 2,880 groups differ from float64
    ratios = sorted({0.30, 0.65, 0.20, 0.55, 0.10, 0.45, 0.06, 0.35, 0.32, 0.70, 0.22, 0.60, 0.12, 0.50, 0.07,
                     0.29, 0.18, 0.08})
    differ = 0
    for r in ratios:
        for w in range(1, 161):
            dom = min(max(int(np.float32(r - 0.05) * np.float32(w)), 1), w)
            ctx = min(max(int(np.round(np.float32(0.05) * np.float32(w))), 1), w - dom)
            assert visionzip_counts(w, r, 0.05) == (dom, ctx), (r, w)
            differ += dom + ctx != _float64_visionzip(w, r)
    assert len(ratios) * 160 == 2880 and differ == 17


def test_rule13_qwen3_visionzip_om_ragged_audio_tile_keeps_184():
    lay = _layout([(288, 50)] * 5, trailing_audio=20)  # 270 audio tokens: five 50-tiles and one of 20
    assert lay.count(AUDIO) == 270
    keep = build_method("visionzip_om", Q3, {"R": 0.35}).pre_llm(_ctx(lay), Plan(lay.counts())).keep
    assert int((keep & (lay.modality == AUDIO)).sum()) == 184
    assert 5 * _float64_visionzip(50, 0.70) + _float64_visionzip(20, 0.70) == 183


def test_rule14_qwen3_pairs_are_the_ones_their_scripts_pass():
    rnd = build_method("random", Q3, {"R": 0.35})
    assert (rnd.budget.R_v, rnd.budget.R_a) == (0.30, 0.65)  # eval_qwen3_omni_random.sh: Qwen2.5's pair
    paper = build_method("random", Q3, {"R": 0.35, "profile": "paper"})
    assert (paper.budget.R_v, paper.budget.R_a) == (0.32, 0.70)
    explicit = build_method("random", Q3, {"R": 0.35, "R_v": 0.32, "R_a": 0.70})
    assert (explicit.budget.R_v, explicit.budget.R_a) == (0.32, 0.70)
    assert build_method("visionzip", Q3, {"R": 0.35}).start == (0.29, 1.0)
    assert build_method("visionzip", Q3, {"R": 0.25}).start == (0.18, 1.0)
    assert build_method("visionzip", Q3, {"R": 0.25, "profile": "paper"}).start == (0.22, 0.60)
    assert build_method("visionzip", Q7B, {"R": 0.25}).start == (0.20, 0.55)  # Qwen2.5 unchanged
    # per 144-token grid at R = 0.25 with Qwen3's 2-s geometry: 25 from (0.18, 1.0), 26 from (0.22, 0.60)
    lay = _layout([(288, 26)] * 4, audio_per_window=26)
    keep = build_method("visionzip", Q3, {"R": 0.25}).pre_llm(_ctx(lay), Plan(lay.counts())).keep
    per_grid = torch.bincount(lay.frame[keep & (lay.modality == VIDEO)], minlength=8)
    assert per_grid.tolist() == [25] * 8
    r_v, _ = audio_intact_reallocate(0.22, 0.60, 1152, 104)
    assert sum(visionzip_counts(144, r_v, 0.05)) == 26


def test_rule15_the_gate_prunes_nothing_unless_some_lam_r_is_below_one():
    from seats_eval.errors import ConfigError

    at = {"R": 1 / 1.4, "R_v": 1 / 1.4, "R_a": 1 / 1.4}
    official = build_method("seats", Q7B, at)
    assert official.schedule.is_identity and official.drop_steps(28) == []
    paper = build_method("seats", Q7B, {**at, "profile": "paper"})
    assert [s.after_layer for s in paper.drop_steps(28)] == [15, 17, 19, 22]
    above = {"R": 0.8, "R_v": 0.8, "R_a": 0.8}
    assert build_method("seats", Q7B, above).schedule.is_identity
    with pytest.raises(ConfigError, match="cannot exceed 1"):
        build_method("seats", Q7B, {**above, "profile": "paper"})
    with pytest.raises(ConfigError, match="cannot exceed 1"):  # one ratio below 1: they assert, we refuse
        build_method("seats", Q7B, {"R": 0.5, "R_v": 0.3, "R_a": 0.8})
    assert gate_prunes(1.4, 0.3, 0.65) and not gate_prunes(1.4, 1 / 1.4, 1 / 1.4)
