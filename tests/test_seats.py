"""SEATS on the tiny model: identity at R=1, the mask oracle at R in {0.35, 0.1}, exact
per-layer counts, and the selection invariants."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.budgets import layer_counts
from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.errors import ConfigError
from seats_eval.layout import AUDIO, VIDEO
from seats_eval.methods import build_method
from seats_eval.methods.base import Method

from .conftest import EOS
from .oracle import oracle_generate

TINY = load_backbone_config("tiny")


def seats(**opts):
    """SEATS under the paper profile (these tests pin its rules; tests/test_official.py the authors')."""
    return build_method("seats", TINY, {"profile": "paper", **opts})


def test_identity_when_all_pruning_disabled(thinker, make_inputs):
    inputs = make_inputs("av_moving.mp4")
    ref = generate(thinker, inputs, Method(), max_new_tokens=6, eos_token_ids=EOS)
    res = generate(thinker, inputs, seats(R=1, lam=1, late_removal=False), max_new_tokens=6, eos_token_ids=EOS)
    torch.testing.assert_close(res.prefill_logits, ref.prefill_logits, rtol=0, atol=0)
    assert res.tokens == ref.tokens
    assert res.record.layer_counts == ref.record.layer_counts


@pytest.mark.parametrize("R", [0.35, 0.1])
@pytest.mark.parametrize("clip", ["av_moving.mp4", "video_only.mp4", "av_long.mp4"])
def test_seats_matches_mask_oracle(thinker, make_inputs, R, clip):
    inputs = make_inputs(clip)
    method = seats(R=R)
    res = generate(thinker, inputs, method, max_new_tokens=5, eos_token_ids=EOS, return_text_logits=True)
    tokens, logits, text_logits = oracle_generate(thinker, inputs, res.record, max_new_tokens=5, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    torch.testing.assert_close(res.text_logits, text_logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


def test_seats_oracle_under_eager_with_attention_scores(thinker_eager, make_inputs):
    inputs = make_inputs("av_long.mp4")
    res = generate(thinker_eager, inputs, seats(R=0.25, score_source="attention"), max_new_tokens=4,
                   eos_token_ids=EOS, return_text_logits=True)
    tokens, logits, _ = oracle_generate(thinker_eager, inputs, res.record, max_new_tokens=4, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


@pytest.mark.parametrize("clip", ["av_moving.mp4", "av_long.mp4", "video_only.mp4", "short.mp4", "silent.mp4"])
@pytest.mark.parametrize("R", [0.35, 0.25, 0.15, 0.1])
def test_exact_counts_order_and_text(thinker, make_inputs, clip, R):
    inputs = make_inputs(clip)
    method = seats(R=R)
    res = generate(thinker, inputs, method, max_new_tokens=1, eos_token_ids=EOS)
    rec = res.record
    n_text, n_v, n_a = rec.input_counts
    expected = layer_counts(method.schedule, n_v, n_a)
    assert [c[1] for c in rec.layer_counts] == expected["video"]
    assert [c[2] for c in rec.layer_counts] == expected["audio"]
    assert all(c[0] == n_text for c in rec.layer_counts)  # text never dropped
    for kept in rec.kept_positions:  # original order preserved
        assert bool((kept[1:] > kept[:-1]).all())
    again = generate(thinker, inputs, seats(R=R), max_new_tokens=1, eos_token_ids=EOS)
    assert all(torch.equal(a, b) for a, b in zip(rec.kept_positions, again.record.kept_positions, strict=True))


def test_stage1_keeps_every_window_and_uses_encoder_signals(thinker, make_inputs):
    inputs = make_inputs("av_long.mp4")  # 5 windows, the last one partial
    res = generate(thinker, inputs, seats(R=0.1), max_new_tokens=1, eos_token_ids=EOS)
    from seats_eval.adapters import make_adapter

    layout = make_adapter(thinker).prepare(inputs).layout
    kept = res.record.kept_positions[0]
    for mod in (VIDEO, AUDIO):
        wins = layout.window[kept][layout.modality[kept] == mod]
        assert set(wins.tolist()) == set(range(layout.num_windows))
    weighted = generate(thinker, inputs, seats(R=0.1), max_new_tokens=1, eos_token_ids=EOS)
    plain = generate(thinker, inputs, seats(R=0.1, attn_weighted=False), max_new_tokens=1, eos_token_ids=EOS)
    assert not torch.equal(weighted.record.kept_positions[0], plain.record.kept_positions[0])


@pytest.mark.parametrize("opts, match", [
    ({"R": 0}, "R"), ({"R": 1.5}, "R"), ({"R": 0.3, "colour": "red"}, "allowed"),
    ({"R": 0.3, "boundaries": "4-2-5-7"}, "L_s"), ({"R": 0.3, "score_source": "x"}, "allowed"),
    ({"R": 0.3, "mode": "sideways"}, "allowed"), ({}, "R is required"),
])
def test_bad_options_fail_at_load(opts, match):
    with pytest.raises(ConfigError, match=match):
        seats(**opts)
