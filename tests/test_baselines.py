"""Baselines (Random, FastV(-om), VisionZip(-om), DivPrune(-om), DyCoke, FastVID, OmniZip):
exact budgets on the tiny model, each method's distinctive rule on hand-built layouts, the
mask oracle for in-LLM and pre-LLM pruning, load-time rejection of unreachable R, and every
id end to end through the lmms-eval model class."""

from __future__ import annotations

import math

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.backbones.budgets import Budget
from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.errors import ConfigError, SeatsError
from seats_eval.layout import AUDIO, TEXT, VIDEO, build_layout
from seats_eval.methods import METHOD_IDS, build_method
from seats_eval.methods.base import EncoderSignals, Method, PreLLMContext, PreLLMResult
from seats_eval.methods.common import target
from seats_eval.methods.dycoke import reference_frames
from seats_eval.methods.fastv import layer_ratio
from seats_eval.methods.fastvid import dyseg, stprune_counts
from seats_eval.runtime.signals import encode_with_signals
from seats_eval.select.merge import dpc_knn_scores, evenly_spaced, merge_assigned

from .chat import chat_request
from .conftest import EOS
from .oracle import oracle_generate

TINY = load_backbone_config("tiny")
Q7B = load_backbone_config("qwen2.5-omni-7b")
BASELINES = ("random", "fastv", "fastv_om", "visionzip", "visionzip_om", "divprune", "divprune_om", "dycoke",
             "fastvid", "omnizip")
MERGERS = ("visionzip", "visionzip_om", "fastvid", "omnizip")


def build(method_id: str, cfg=TINY, **opts) -> Method:
    """A baseline under the paper profile (these tests pin its rules; tests/test_official.py the authors')."""
    return build_method(method_id, cfg, {"profile": "paper", **opts})


# --- helpers -------------------------------------------------------------------------------


def hand_layout(grids: int, per_grid: int, audio_per_window: int, pre: int = 3, post: int = 2):
    """Layout of a synthetic sequence: text, then per 2-s window two grids of video tokens
    followed by that window's audio tokens, then text (the Qwen2.5-Omni interleaving)."""
    ids = [0] * pre
    windows = math.ceil(grids / 2)
    for t in range(windows):
        ids += [1] * per_grid * min(2, grids - 2 * t) + [2] * audio_per_window
    ids += [0] * post
    return build_layout(torch.tensor(ids), video_token_id=1, audio_token_id=2,
                        video_grid_thw=torch.tensor([[grids, 2, 2 * per_grid]]), spatial_merge_size=2,
                        audio_tokens_per_window=audio_per_window)


def ctx_of(layout, embeds, video_attn=None, audio_attn=None) -> PreLLMContext:
    return PreLLMContext(embeds, layout, EncoderSignals(video_attn=video_attn, audio_attn=audio_attn), "hand")


def select(method: Method, ctx: PreLLMContext) -> PreLLMResult:
    """What a method's pre_llm decides for one context, with its plan for that sample."""
    return method.pre_llm(ctx, method.plan(ctx.layout.counts()))


def split(out: PreLLMResult):
    return out.keep, out.embeds


@pytest.fixture(scope="module")
def prepared(thinker, make_inputs):
    """clip -> (PreparedSample, EncoderSignals) of the tiny model, computed once."""
    adapter = make_adapter(thinker)
    cache = {}

    def get(clip: str):
        if clip not in cache:
            inputs = make_inputs(clip)
            with torch.no_grad():
                features = encode_with_signals(adapter, inputs)
                prep = adapter.prepare(inputs, features=features)
            cache[clip] = (prep, features.signals(prep.layout))
        return cache[clip]

    return get


def expected_counts(method: Method, n_v: int, n_a: int) -> tuple[int, int]:
    b = method.budget
    if method.name in ("fastv", "fastv_om"):
        return method.targets(n_v, n_a)
    return target(b.R_v, n_v), (n_a if b.R_a >= 1 else target(b.R_a, n_a))


# --- registry and load-time checks ----------------------------------------------------------


def test_every_baseline_is_registered():
    from seats_eval.models.registry import model_ids

    assert set(BASELINES) <= set(METHOD_IDS)
    assert {f"{m}_qwen25omni" for m in BASELINES} <= set(model_ids())


@pytest.mark.parametrize("method_id, mode", [
    ("random", "both"), ("fastv", "audio_intact"), ("fastv_om", "both"), ("visionzip", "audio_intact"),
    ("visionzip_om", "both"), ("divprune", "audio_intact"), ("divprune_om", "both"),
    ("dycoke", "audio_intact"), ("fastvid", "audio_intact"), ("omnizip", "both"),
])
def test_default_modes_follow_table7(method_id, mode):
    assert build(method_id, Q7B, R=0.35, **({"R_v": 0.25} if method_id == "dycoke" else {})).budget.mode == mode


def test_default_feasibility_on_qwen25_matches_table3():
    """Which R each baseline accepts by default on Qwen2.5-Omni-7B: exactly Table 3's rows
    (DyCoke's R=35 row realised R_v=25% and OmniZip's R=25 row is 25-25: both explicit)."""
    table3 = {"random": {35, 25, 15, 10}, "fastv": {35, 25}, "fastv_om": {35, 25, 15}, "visionzip": {35, 25},
              "visionzip_om": {35, 25, 15, 10}, "divprune": {35, 25}, "divprune_om": {35, 25, 15, 10},
              "dycoke": set(), "fastvid": {35, 25}, "omnizip": {35}}
    for method_id, rows in table3.items():
        ok = set()
        for R in (35, 25, 15, 10):
            try:
                build(method_id, Q7B, R=R / 100)
                ok.add(R)
            except ConfigError:
                pass
        assert ok == rows, method_id
    build("dycoke", Q7B, R=0.35, R_v=0.25)
    build("omnizip", Q7B, R=0.25, R_v=0.25, R_a=0.25)


@pytest.mark.parametrize("method_id, opts, match", [
    ("dycoke", {"R": 0.35}, "R_v=0.25"),
    ("omnizip", {"R": 0.15}, "25%"),
    ("omnizip", {"R": 0.35, "R_v": 0.3, "R_a": 0.04}, "contextual"),
    ("fastv", {"R": 0.35}, "cannot be reached"),  # tiny: 8 layers, K=2 leaves a negative ratio
    ("fastv_om", {"R": 0.1, "K": 1}, "cannot be reached"),
    ("fastv", {"R": 0.35, "K": 8}, "K must be"),
    ("divprune", {"R": 0.15}, "impractically low"),
    ("random", {"R": 0.3, "colour": "red"}, "allowed"),
    ("visionzip_om", {"R": 0.3, "merge": "max"}, "allowed"),
    ("fastvid", {"R": 0.3, "tau": 2}, "tau"),
    ("divprune_om", {}, "R is required"),
    ("fastv", {"R": 0.35, "K": 1, "score_source": "x"}, "allowed"),
])
def test_unreachable_or_bad_options_fail_at_load(method_id, opts, match):
    with pytest.raises(ConfigError, match=match):
        build(method_id, **opts)


def test_fastv_layer_mean_ratio():
    # R_v = 0.30 on 28 layers with K = 2 -> (0.3*28 - 2) / 26 = 0.2462 (reference notes)
    assert layer_ratio(0.30, 28, 2, "layer_mean") == pytest.approx(0.24615, abs=1e-5)
    assert layer_ratio(0.30, 28, 2, "direct") == 0.30
    assert layer_ratio(1.0, 28, 2, "layer_mean") == 1.0


# --- exact budgets on the tiny model --------------------------------------------------------

BUDGET_CASES = (
    [("random", {"R": r}) for r in (0.35, 0.25, 0.15, 0.1)]
    + [("random", {"R": 0.25, "mode": "audio_intact"})]
    + [(m, {"R": r}) for m in ("divprune", "visionzip", "fastvid") for r in (0.35, 0.25)]
    + [(m, {"R": r}) for m in ("divprune_om", "visionzip_om") for r in (0.35, 0.25, 0.15, 0.1)]
    + [("divprune", {"R": 0.25, "mode": "both"}), ("visionzip", {"R": 0.35, "mode": "both"})]
    + [("dycoke", {"R": 0.35, "R_v": 0.25}), ("dycoke", {"R": 0.35, "mode": "both"})]
    + [("omnizip", {"R": 0.35}), ("omnizip", {"R": 0.25})]
)


@pytest.mark.parametrize("clip", ["av_long.mp4", "av_moving.mp4", "video_only.mp4"])
@pytest.mark.parametrize("method_id, opts", BUDGET_CASES)
def test_pre_llm_budgets_are_exact(prepared, clip, method_id, opts):
    prep, signals = prepared(clip)
    lay, embeds = prep.layout, prep.inputs_embeds[0]
    method = build(method_id, **opts)
    keep, repl = split(select(method, PreLLMContext(embeds, lay, signals, clip)))
    assert keep.dtype == torch.bool and keep.shape == (lay.length,)
    n_v, n_a = lay.count(VIDEO), lay.count(AUDIO)
    k_v, k_a = expected_counts(method, n_v, n_a)
    assert int((keep & (lay.modality == VIDEO)).sum()) == k_v
    assert int((keep & (lay.modality == AUDIO)).sum()) == k_a
    assert bool(keep[lay.modality == TEXT].all())  # text never dropped
    if method_id in MERGERS:  # merged vectors only in kept media slots; the rest untouched
        assert repl is not None and repl.shape == embeds.shape
        changed = (repl != embeds).any(dim=1)
        assert not bool((changed & ~keep).any()) and not bool(changed[lay.modality == TEXT].any())
    else:
        assert repl is None
    again, _ = split(select(build(method_id, **opts), PreLLMContext(embeds, lay, signals, clip)))
    assert torch.equal(keep, again)  # deterministic (seeded)


@pytest.mark.parametrize("method_id, opts", [
    ("fastv", {"R": 0.35, "K": 1}), ("fastv", {"R": 0.35, "ratio": "direct"}),
    ("fastv", {"R": 0.25, "ratio": "direct"}), ("fastv", {"R": 0.35, "K": 1, "mode": "both"}),
    ("fastv_om", {"R": 0.35, "K": 1}), ("fastv_om", {"R": 0.25, "K": 1}), ("fastv_om", {"R": 0.15, "K": 1}),
])
def test_fastv_counts_order_and_text(thinker, make_inputs, method_id, opts):
    method = build(method_id, **opts)
    res = generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1, eos_token_ids=EOS)
    rec = res.record
    n_t, n_v, n_a = rec.input_counts
    k_v, k_a = expected_counts(method, n_v, n_a)
    assert rec.llm_input_counts == rec.input_counts
    assert rec.step_layers == [method.K - 1]
    assert rec.layer_counts[: method.K] == [(n_t, n_v, n_a)] * method.K
    assert rec.layer_counts[method.K:] == [(n_t, k_v, k_a)] * (TINY.num_layers - method.K)
    kept = rec.kept_positions[-1]
    assert bool((kept[1:] > kept[:-1]).all())


# --- distinctive rules on hand-built layouts ------------------------------------------------


def _angles(deg) -> torch.Tensor:
    r = torch.tensor(deg, dtype=torch.float32) * math.pi / 180
    return torch.stack([r.cos(), r.sin()], dim=1)


def test_divprune_picks_the_max_min_set_per_frame():
    lay = hand_layout(grids=2, per_grid=4, audio_per_window=2)
    e = torch.zeros(lay.length, 2)
    e[lay.modality == TEXT] = 1.0
    # frame 0: 0, 10, 90, 180 deg -> first pick 180 (farthest nearest neighbour), then 0
    # frame 1: 0, 45, 50, 100 deg -> first 100, then 0
    e[lay.modality == VIDEO] = _angles([0, 10, 90, 180, 0, 45, 50, 100])
    e[lay.modality == AUDIO] = _angles([0, 90])
    m = build("divprune", R=0.5, mode="both", R_v=0.5, R_a=1.0)
    keep = select(m, ctx_of(lay, e)).keep
    vid = torch.nonzero(lay.modality == VIDEO).flatten()
    assert keep[vid].tolist() == [True, False, False, True, True, False, False, True]
    assert bool(keep[lay.modality == AUDIO].all())
    om = build("divprune_om", R=0.5, R_v=0.5, R_a=0.5)
    keep = select(om, ctx_of(lay, e)).keep
    assert int(keep[lay.modality == AUDIO].sum()) == 1


def test_fastv_keeps_the_top_k_attended():
    lay = hand_layout(grids=2, per_grid=4, audio_per_window=4)
    scores = torch.arange(lay.length, dtype=torch.float32).flip(0)  # earlier = more attended
    step = build("fastv", R=0.5, mode="both", R_v=0.5, R_a=0.5, ratio="direct").drop_steps(8)[0]
    assert step.after_layer == 1 and step.score_source == "attention"
    vid, aud = torch.nonzero(lay.modality == VIDEO).flatten(), torch.nonzero(lay.modality == AUDIO).flatten()
    fv = build("fastv", R=0.35, R_v=0.5, ratio="direct")  # audio intact
    keep = fv.in_llm(step, scores, lay, fv.plan(lay.counts()))
    assert keep[vid].tolist() == [True] * 4 + [False] * 4 and bool(keep[aud].all())
    om = build("fastv_om", R=0.5, R_v=0.5, R_a=0.5, ratio="direct")
    keep = om.in_llm(step, scores, lay, om.plan(lay.counts()))
    assert keep[vid].tolist() == [True] * 4 + [False] * 4 and keep[aud].tolist() == [True] * 2 + [False] * 2
    assert bool(keep[lay.modality == TEXT].all())


def test_fastv_uses_the_real_attention_of_layer_k_minus_1(thinker_eager, make_inputs):
    """Independent check: the stock eager model's own attention map of layer K-1 (last
    row, head mean) ranks the video tokens the runtime keeps."""
    inputs = make_inputs("av_moving.mp4")
    method = build("fastv", R=0.35, ratio="direct")
    res = generate(thinker_eager, inputs, method, max_new_tokens=1, eos_token_ids=EOS)
    ad = make_adapter(thinker_eager)
    with torch.no_grad():
        prep = ad.prepare(inputs)
        out = ad.lm(inputs_embeds=prep.inputs_embeds, position_ids=prep.position_ids, output_attentions=True,
                    return_dict=True)
    scores = out.attentions[method.K - 1][0, :, -1].float().mean(0)
    lay = prep.layout
    k_v, _ = method.targets(lay.count(VIDEO), lay.count(AUDIO))
    top = torch.topk(torch.where(lay.modality == VIDEO, scores, -1.0), k_v).indices.sort().values
    kept = res.record.kept_positions[-1]
    assert torch.equal(kept[lay.modality[kept] == VIDEO], top)


def test_visionzip_dominant_and_contextual_split():
    lay = hand_layout(grids=1, per_grid=40, audio_per_window=4)
    g = torch.Generator().manual_seed(0)
    e = torch.randn(lay.length, 6, generator=g)
    attn = torch.rand(lay.length, generator=g)
    m = build("visionzip", R=0.5, R_v=0.5)  # 20 of 40: round(0.05 * 40) = 2 contextual, 18 dominant
    keep, out = split(select(m, ctx_of(lay, e, video_attn=attn)))
    vid = torch.nonzero(lay.modality == VIDEO).flatten()
    dominant = vid[torch.topk(attn[vid], 18).indices]
    rest = vid[~torch.isin(vid, dominant)]  # 22 in index order -> anchors: rest[0], rest[11]
    anchors = rest[[0, 11]]
    assert set(torch.nonzero(keep & (lay.modality == VIDEO)).flatten().tolist()) == set(dominant.tolist()) | set(
        anchors.tolist())
    unit = torch.nn.functional.normalize(e, dim=1)
    for a in anchors.tolist():  # anchor + mean of the tokens most similar to it
        members = [r for r in rest.tolist() if r not in anchors.tolist()
                   and int(torch.argmax(unit[anchors] @ unit[r])) == anchors.tolist().index(a)]
        expect = e[a] + e[members].mean(0) if members else e[a]
        torch.testing.assert_close(out[a], expect)
    untouched = torch.ones(lay.length, dtype=torch.bool)
    untouched[anchors] = False
    assert torch.equal(out[untouched], e[untouched])


def test_dycoke_keeps_first_frames_and_drops_temporal_copies():
    assert reference_frames(9).tolist() == [-1, 0, 0, 2, -1, 4, 4, 6, 7]
    assert reference_frames(3).tolist() == [-1, 0, 1]
    lay = hand_layout(grids=8, per_grid=4, audio_per_window=3)
    g = torch.Generator().manual_seed(1)
    e = torch.randn(lay.length, 8, generator=g)
    fr = lay.frame
    for f, ref in ((1, 0), (2, 0), (3, 2), (5, 4), (6, 4), (7, 6)):  # each frame: 1 token a copy of its ref
        e[(fr == f) & (lay.spatial == f % 4)] = e[(fr == ref) & (lay.spatial == f % 4)]
    m = build("dycoke", R=0.5, R_v=0.5)  # 16 of 32: frames 0 and 4 whole + 8 over the other 6
    keep = select(m, ctx_of(lay, e)).keep
    kept_per_frame = [int((keep & (fr == f)).sum()) for f in range(8)]
    assert kept_per_frame[0] == 4 and kept_per_frame[4] == 4 and sum(kept_per_frame) == 16
    for f in (1, 2, 3, 5, 6, 7):
        assert not bool(keep[(fr == f) & (lay.spatial == f % 4)].any())  # the copy is dropped
    assert bool(keep[lay.modality == AUDIO].all())
    short = hand_layout(grids=2, per_grid=4, audio_per_window=3)
    with pytest.raises(SeatsError, match="shorter than one"):  # 2 grids at R_v=0.25: frame 0 alone > 2 of 8
        select(build("dycoke", R=0.35, R_v=0.25), ctx_of(short, torch.randn(short.length, 8)))


def test_omnizip_gives_more_video_to_windows_with_salient_audio():
    lay = hand_layout(grids=6, per_grid=20, audio_per_window=20)
    g = torch.Generator().manual_seed(2)
    e = torch.randn(lay.length, 8, generator=g)
    attn = torch.rand(lay.length, generator=g) * 0.1
    aud = lay.modality == AUDIO
    attn[aud & (lay.window == 1)] += 1.0  # window 1's audio is the salient one
    m = build("omnizip", R=0.4, R_v=0.4, R_a=0.4)
    keep, out = split(select(m, ctx_of(lay, e, audio_attn=attn)))
    n_a = int(aud.sum())
    assert int((keep & aud).sum()) == target(0.4, n_a)  # dominant + anchors == R_a
    assert int((keep & (lay.modality == VIDEO)).sum()) == target(0.4, int((lay.modality == VIDEO).sum()))
    per_win_v = [int((keep & (lay.modality == VIDEO) & (lay.window == w)).sum()) for w in range(3)]
    per_win_a = [int((keep & aud & (lay.window == w)).sum()) for w in range(3)]
    assert per_win_a[1] == max(per_win_a) and per_win_v[1] > per_win_v[0] and per_win_v[1] > per_win_v[2]
    assert min(per_win_v) >= 10  # 25% floor of every window's 40 video tokens
    changed = (out != e).any(dim=1)
    assert bool(changed.any()) and not bool((changed & ~(keep & aud)).any())  # only audio anchors rewritten
    # without audio every window is unguided: a uniform split
    silent = hand_layout(grids=6, per_grid=20, audio_per_window=0)
    keep2, _ = split(select(m, ctx_of(silent, torch.randn(silent.length, 8, generator=g))))
    assert [int((keep2 & (silent.window == w)).sum()) for w in range(3)] == [16, 16, 16]


def test_fastvid_segments_and_counts():
    feats = torch.tensor([[1.0, 0], [1, 0.01], [1, 0.02], [0, 1], [0.01, 1], [0.02, 1]])
    assert dyseg(feats, c=2, tau=0.5).tolist() == [0, 0, 0, 1, 1, 1]
    assert dyseg(feats, c=1, tau=0.5).tolist() == [0, 0, 0, 1, 1, 1]  # tau alone cuts the scene change
    assert dyseg(feats, c=3, tau=-1.0).unique().numel() == 3
    seg = torch.tensor([0] * 6 + [1] * 2)
    k = torch.full((8,), 20)
    sal, ctx, anchor = stprune_counts(k, torch.full((8,), 60), seg, d=0.4, p=4)
    assert anchor.tolist() == [False, True, False, False, False, True, False, True]  # every 4th from the end
    assert ctx.tolist() == [0, 16, 0, 0, 0, 32, 0, 16] and int((sal + ctx).sum()) == 160
    # overflow: an anchor with too few free tokens hands the rest back as salient tokens
    sal, ctx, anchor = stprune_counts(torch.full((4,), 36), torch.full((4,), 40), torch.zeros(4, dtype=torch.long),
                                      d=0.4, p=4)
    assert int((sal + ctx).sum()) == 144 and bool((sal + ctx <= 40).all())


def test_merge_helpers():
    cand = torch.tensor([[True, True, False, True, True, True, True]])
    assert torch.nonzero(evenly_spaced(cand, torch.tensor([2]))[0]).flatten().tolist() == [0, 4]
    f = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [5.0, 0.0], [0.0, 2.0]]])
    assign = torch.tensor([[-1, 0, 0, -1]])
    torch.testing.assert_close(merge_assigned(f, assign, "sum")[0, 0], torch.tensor([5.0, 0.0]))
    torch.testing.assert_close(merge_assigned(f, assign, "mean")[0, 0], torch.tensor([3.0, 0.0]))
    # fastvid: w = max(1/3, 0.6) = 0.6 -> 0.6*1 + 0.4*4
    torch.testing.assert_close(merge_assigned(f, assign, "fastvid", 0.6)[0, 0], torch.tensor([2.2, 0.0]))
    torch.testing.assert_close(merge_assigned(f, assign, "sum")[0, 1:], f[0, 1:])
    # density peaks: the centre of a tight cluster beats its neighbours
    pts = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [-0.1, 0.0], [0.0, 0.1], [5.0, 5.0]]])
    s = dpc_knn_scores(pts, torch.ones(1, 5, dtype=torch.bool), k=3)
    assert int(s[0, :4].argmax()) == 0


def test_random_is_seeded():
    lay = hand_layout(grids=4, per_grid=20, audio_per_window=10)
    e = torch.zeros(lay.length, 2)
    a = select(build("random", R=0.3), ctx_of(lay, e)).keep
    b = select(build("random", R=0.3), ctx_of(lay, e)).keep
    c = select(build("random", R=0.3, seed=1), ctx_of(lay, e)).keep
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a[lay.modality == VIDEO].sum()) == target(0.3, 80)


def test_missing_encoder_signal_is_a_clear_error():
    lay = hand_layout(grids=2, per_grid=4, audio_per_window=2)
    with pytest.raises(SeatsError, match="video_attn"):
        select(build("visionzip", R=0.35), ctx_of(lay, torch.randn(lay.length, 4)))


# --- the mask oracle ------------------------------------------------------------------------


class _WithReplacement(Method):
    """Wraps a keep-mask method and returns (keep, unchanged copy of the embeddings)."""

    def __init__(self, inner: Method) -> None:
        self.inner, self.name = inner, inner.name
        self.needs_encoder_signals = inner.needs_encoder_signals

    def pre_llm(self, ctx, plan):
        return PreLLMResult(self.inner.pre_llm(ctx, plan).keep, ctx.embeds.clone())


@pytest.mark.parametrize("method_id, opts, clip", [
    ("fastv", {"R": 0.35, "K": 1}, "av_long.mp4"), ("fastv_om", {"R": 0.25, "K": 1}, "av_moving.mp4"),
    ("fastv_om", {"R": 0.35, "K": 3, "ratio": "direct"}, "av_moving.mp4"),
    ("random", {"R": 0.25}, "av_moving.mp4"), ("divprune", {"R": 0.35}, "av_moving.mp4"),
    ("divprune_om", {"R": 0.15}, "av_long.mp4"),
])
def test_baselines_match_mask_oracle(thinker, make_inputs, method_id, opts, clip):
    inputs = make_inputs(clip)
    res = generate(thinker, inputs, build(method_id, **opts), max_new_tokens=3, eos_token_ids=EOS,
                   return_text_logits=True)
    tokens, logits, text_logits = oracle_generate(thinker, inputs, res.record, max_new_tokens=3, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    torch.testing.assert_close(res.text_logits, text_logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


def test_replacement_at_unmerged_slots_is_a_no_op(thinker, make_inputs):
    """The (keep, replacement) path of the runtime with an unchanged copy gives the same
    result as the keep mask alone, and both match the oracle."""
    inputs = make_inputs("av_moving.mp4")
    plain = generate(thinker, inputs, build("divprune_om", R=0.25), max_new_tokens=3, eos_token_ids=EOS)
    wrapped = generate(thinker, inputs, _WithReplacement(build("divprune_om", R=0.25)), max_new_tokens=3,
                       eos_token_ids=EOS)
    torch.testing.assert_close(wrapped.prefill_logits, plain.prefill_logits, rtol=0, atol=0)
    assert wrapped.tokens == plain.tokens
    tokens, logits, _ = oracle_generate(thinker, inputs, wrapped.record, max_new_tokens=3, eos=EOS)
    torch.testing.assert_close(wrapped.prefill_logits, logits, rtol=0, atol=1e-4)
    assert wrapped.tokens == tokens
    # a real merge changes the prefill (the merged anchors enter the LLM)
    merged = generate(thinker, inputs, build("visionzip_om", R=0.25), max_new_tokens=1, eos_token_ids=EOS)
    unmerged = generate(thinker, inputs, build("visionzip_om", R=0.25, context=0.0), max_new_tokens=1,
                        eos_token_ids=EOS)
    assert merged.record.llm_input_counts == unmerged.record.llm_input_counts
    assert not torch.equal(merged.prefill_logits, unmerged.prefill_logits)


# --- every id end to end through the lmms-eval model class -----------------------------------

E2E = {"random": {"R": 0.25}, "fastv": {"R": 0.35, "K": 1}, "fastv_om": {"R": 0.25, "K": 1},
       "visionzip": {"R": 0.25}, "visionzip_om": {"R": 0.25}, "divprune": {"R": 0.25}, "divprune_om": {"R": 0.25},
       "dycoke": {"R": 0.35, "R_v": 0.25}, "fastvid": {"R": 0.25}, "omnizip": {"R": 0.25}}
E2E = {k: {**v, "profile": "paper"} for k, v in E2E.items()}  # the counts below are the paper rules'


@pytest.mark.parametrize("method_id", BASELINES)
def test_model_class_runs_every_baseline(method_id, tiny_dir, clips_dir, tmp_path):
    from seats_eval.models import ids
    from seats_eval.models.omni import FAILURE_MARKER

    cls = getattr(ids, f"Model_{method_id}_qwen25omni")
    model = cls(pretrained=str(tiny_dir), record_dir=str(tmp_path), **{k: str(v) for k, v in E2E[method_id].items()})
    assert model.method.name == method_id
    model.task_dict = {"seats_fixture_mcq": {"test": {0: {}}}}
    path = str(clips_dir / "av_long.mp4")
    req = chat_request(path, max_new_tokens=2)
    [answer] = [r.text for r in model.generate_until([req])]
    assert not answer.startswith(FAILURE_MARKER), answer
    [rec] = model.records
    n_t, n_v, n_a = rec["input_counts"]
    k_v, k_a = expected_counts(model.method, n_v, n_a)
    assert rec["layer_counts"][-1] == [n_t, k_v, k_a]


def test_budget_dataclass_is_what_methods_read():
    m = build("visionzip_om", R=0.35, R_v=0.3, R_a=0.65)
    assert m.budget == Budget(R=0.35, R_v=0.3, R_a=0.65, mode="both")
