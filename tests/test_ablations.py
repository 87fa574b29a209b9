"""The Table 5 ablation switches of SEATS: each changes exactly what it names.

Stage I switches (stage1, attn_weighted) change the pre-LLM set but not the counts; stage2
changes the schedule (no middle drops, Stage I spends the budget); every Stage II / III
switch leaves the Stage I selection (kept_positions[0]) untouched and changes only the
in-LLM selection or the late block.
"""

from __future__ import annotations

import pytest
import torch

from seats_eval.adapters import make_adapter
from seats_eval.backbones.budgets import layer_counts
from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.errors import ConfigError
from seats_eval.layout import AUDIO, VIDEO
from seats_eval.methods import build_method

from .conftest import EOS
from .oracle import oracle_generate

TINY = load_backbone_config("tiny")
QWEN25 = load_backbone_config("qwen2.5-omni-7b")
CLIP = "av_long.mp4"  # 5 windows: window-level switches have something to decide
R = 0.35  # Table 5's overall TRR

_cache: dict = {}


def run(thinker, make_inputs, clip: str = CLIP, **opts):
    key = (clip, tuple(sorted(opts.items())))
    if key not in _cache:
        method = build_method("seats", TINY, {"profile": "paper", "R": R, **opts})
        _cache[key] = (method, generate(thinker, make_inputs(clip), method, max_new_tokens=1, eos_token_ids=EOS))
    return _cache[key]


def per_window_counts(layout, kept: torch.Tensor, modality: int) -> list[int]:
    sel = kept[layout.modality[kept] == modality]
    return torch.bincount(layout.window[sel], minlength=layout.num_windows).tolist()


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.equal(a, b))


def test_stage1_random_same_counts_different_set(thinker, make_inputs):
    _, ref = run(thinker, make_inputs)
    method, res = run(thinker, make_inputs, stage1="random")
    assert not method.needs_encoder_signals
    layout = make_adapter(thinker).prepare(make_inputs(CLIP)).layout
    k_ref, k_rnd = ref.record.kept_positions[0], res.record.kept_positions[0]
    assert not same(k_ref, k_rnd)
    for mod in (VIDEO, AUDIO):
        assert per_window_counts(layout, k_rnd, mod) == per_window_counts(layout, k_ref, mod)
    assert res.record.layer_counts == ref.record.layer_counts
    # seeded: the same seed draws the same set, another seed another one
    _, again = run(thinker, make_inputs, stage1="random", seed=0)
    _, other = run(thinker, make_inputs, stage1="random", seed=1)
    assert same(again.record.kept_positions[0], k_rnd)
    assert not same(other.record.kept_positions[0], k_rnd)


@pytest.mark.parametrize("stage1", ["visionzip", "omnizip"])
def test_stage1_baseline_selectors_same_counts_different_set(thinker, make_inputs, stage1):
    """winDivPrune -> VisionZip-om / OmniZip: the baselines' selection at SEATS' Stage I
    counts; Stage II and III unchanged in counts."""
    _, ref = run(thinker, make_inputs)
    method, res = run(thinker, make_inputs, stage1=stage1)
    assert method.needs_encoder_signals
    assert res.record.llm_input_counts == ref.record.llm_input_counts
    assert not same(res.record.kept_positions[0], ref.record.kept_positions[0])
    assert res.record.layer_counts == ref.record.layer_counts
    assert res.record.step_layers == ref.record.step_layers


def test_attn_weighted_false_changes_only_the_stage1_set(thinker, make_inputs):
    _, ref = run(thinker, make_inputs)
    method, res = run(thinker, make_inputs, attn_weighted=False)
    assert not method.needs_encoder_signals
    assert not same(res.record.kept_positions[0], ref.record.kept_positions[0])
    assert res.record.layer_counts == ref.record.layer_counts


@pytest.mark.parametrize("opts", [{"decay": "equal"}, {"coupled": False}, {"selection": "global"},
                                  {"inter_window": False}, {"intra_window": False}, {"late_removal": False}])
def test_stage2_and_late_switches_keep_stage1(thinker, make_inputs, opts):
    _, ref = run(thinker, make_inputs)
    method, res = run(thinker, make_inputs, **opts)
    rec = res.record
    assert same(rec.kept_positions[0], ref.record.kept_positions[0])
    n_text, n_v, n_a = rec.input_counts
    planned = layer_counts(method.schedule, n_v, n_a)  # the schedule says what the runtime does
    assert [c[1] for c in rec.layer_counts] == planned["video"]
    assert [c[2] for c in rec.layer_counts] == planned["audio"]
    changed = [not same(a, b) for a, b in zip(rec.kept_positions[1:], ref.record.kept_positions[1:], strict=False)]
    if "decay" in opts:  # other middle counts, same drop layers
        assert rec.step_layers == ref.record.step_layers
        assert rec.layer_counts != ref.record.layer_counts
    elif "late_removal" in opts:  # no late drop; the late block keeps the last middle count
        assert rec.step_layers == ref.record.step_layers[:-1]
        L_l = method.schedule.boundaries[3]
        assert rec.layer_counts[:L_l - 1] == ref.record.layer_counts[:L_l - 1]
        assert all(c == rec.layer_counts[L_l - 2] for c in rec.layer_counts[L_l - 1:])
        assert not any(changed)
    else:  # same counts everywhere, other tokens inside the LLM
        assert rec.layer_counts == ref.record.layer_counts
        assert rec.step_layers == ref.record.step_layers
        assert any(changed)


def test_stage2_false_spends_the_budget_in_stage1(thinker, make_inputs):
    method, res = run(thinker, make_inputs, stage2=False)
    _, ref = run(thinker, make_inputs)
    rec, s = res.record, method.schedule
    L, L_l = s.num_layers, s.boundaries[3]
    assert rec.step_layers == [L_l - 2]  # only late removal: no middle-block drops
    assert s.drop_after == ()
    n_text, n_v, n_a = rec.input_counts
    for name, n, col in (("video", n_v, 1), ("audio", n_a, 2)):
        ms = s.modality(name)
        R_m = method.budget.ratio(name)
        assert ms.r_s == pytest.approx(R_m * L / (L_l - 1))
        assert ms.mean_trr == pytest.approx(R_m, abs=1e-12)
        counts = [c[col] for c in rec.layer_counts]
        assert counts == [round(ms.r_s * n)] * (L_l - 1) + [0] * (L - L_l + 1)
        assert abs(sum(counts) / L - R_m * n) <= 0.5  # layer-weighted mean = R_m up to rounding
    assert rec.llm_input_counts != ref.record.llm_input_counts  # r = R*L/(L_l-1), not lam*R
    # no late removal either: Stage I keeps exactly R_m everywhere
    m2 = build_method("seats", TINY, {"profile": "paper", "R": R, "stage2": False, "late_removal": False})
    assert m2.drop_steps(L) == []
    assert m2.schedule.video.trr == (method.budget.R_v,) * L


def test_stage2_false_on_qwen25_and_its_limit():
    m = build_method("seats", QWEN25, {"profile": "paper", "R": 0.35, "stage2": False})
    s = m.schedule
    assert [st.after_layer for st in m.drop_steps(28)] == [22]  # late removal before 1-based layer 24
    assert s.video.r_s == pytest.approx(0.30 * 28 / 23) and s.audio.r_s == pytest.approx(0.65 * 28 / 23)
    assert s.video.mean_trr == pytest.approx(0.30) and s.audio.mean_trr == pytest.approx(0.65)
    with pytest.raises(ConfigError, match="stage2=false.*> 1"):
        build_method("seats", QWEN25, {"profile": "paper", "R": 0.9, "stage2": False})
    # lam plays no part without Stage II: lam*R_a > 1 would fail the default schedule only
    with pytest.raises(ConfigError, match="lam"):
        build_method("seats", QWEN25, {"profile": "paper", "R": 0.5})
    assert build_method("seats", QWEN25, {"profile": "paper", "R": 0.5, "stage2": False}).schedule.audio.r_s <= 1
    # audio-intact keeps R_a = 1 in every layer, which late removal cannot: only without it
    with pytest.raises(ConfigError, match="R_a"):
        build_method("seats", QWEN25, {"profile": "paper", "R": 0.5, "mode": "audio_intact", "stage2": False})
    m = build_method("seats", QWEN25, {"profile": "paper", "R": 0.5, "mode": "audio_intact", "stage2": False, "late_removal": False})
    assert m.schedule.audio.trr == (1.0,) * 28


@pytest.mark.parametrize("opts", [{"stage1": "random"}, {"stage2": False}])
def test_ablations_match_mask_oracle(thinker, make_inputs, opts):
    inputs = make_inputs("av_moving.mp4")
    method = build_method("seats", TINY, {"profile": "paper", "R": 0.25, **opts})
    res = generate(thinker, inputs, method, max_new_tokens=4, eos_token_ids=EOS)
    tokens, logits, _ = oracle_generate(thinker, inputs, res.record, max_new_tokens=4, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


def test_defaults_and_describe():
    m = build_method("seats", TINY, {"profile": "paper", "R": R})
    assert (m.stage1, m.stage2, m.attn_weighted, m.late_removal, m.selection) == ("windivprune", True, True, True,
                                                                                   "window")
    assert m.alloc == {"inter_window": True, "intra_window": True, "coupled": True}
    assert m.schedule.decay == "exp" and m.needs_encoder_signals
    d = build_method("seats", TINY, {"profile": "paper", "R": R, "stage1": "random", "stage2": "false", "seed": "3"}).describe()
    assert (d["stage1"], d["stage2"], d["seed"]) == ("random", False, 3)
    assert build_method("seats", TINY, {"profile": "paper", "R": R, "stage1": "visionzip_om"}).stage1 == "visionzip"


@pytest.mark.parametrize("opts, match", [
    ({"stage1": "kmeans"}, "allowed"), ({"stage2": "maybe"}, "true or false"),
    ({"seed": "x"}, "integer"), ({"selection": "local"}, "allowed"), ({"decay": "linear"}, "allowed"),
])
def test_bad_ablation_options(opts, match):
    with pytest.raises(ConfigError, match=match):
        build_method("seats", TINY, {"profile": "paper", "R": R, **opts})
