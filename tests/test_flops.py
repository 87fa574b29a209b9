"""FLOPs convention (DESIGN 5b) and the efficiency benchmark's plumbing (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from seats_eval.backbones.config import load_backbone_config
from seats_eval.bench.flops import (
    geometry_from_cfg,
    planned_lengths,
    prefill_flops,
    prefill_flops_from_lengths,
)
from seats_eval.driver import generate
from seats_eval.methods import build_method

from .conftest import EOS


def test_full_token_flops_equal_a_hand_computation():
    cfg = load_backbone_config("qwen2.5-omni-7b")
    S, L = 12_891, 28
    D, Dkv, I, V = 3584, 4 * 128, 18944, 152064  # noqa: E741
    per_layer = S * D * D + S * D * Dkv + S * D * Dkv + S * D * D + 2 * S * S * D + 3 * S * D * I
    hand = L * per_layer + S * D * V
    assert geometry_from_cfg(cfg) == (D, Dkv, I, V, 0)
    assert prefill_flops_from_lengths([S] * L, *geometry_from_cfg(cfg)) == hand
    assert hand / 1e12 == pytest.approx(124.5, abs=0.1)  # the reference notes' ~124 TFLOPs at 12.9k tokens


def test_true_flops_count_causal_pairs_and_the_last_lm_head_row():
    """The work the runtime runs: causal attention over each layer's kept keys (S(S+1)/2
    pairs), A-wide q/o and attention, lm_head on one row; the paper's square and every-row head."""
    D, Dkv, I, V, A = 8, 4, 16, 100, 12  # noqa: E741
    lengths = [10, 10, 4]
    def hand(S, pairs, a):
        return 2 * S * D * a + 2 * S * D * Dkv + 2 * pairs * a + 3 * S * D * I
    true = sum(hand(S, S * (S + 1) // 2, A) for S in lengths) + D * V
    paper = sum(hand(S, S * S, D) for S in lengths) + 4 * D * V
    assert prefill_flops_from_lengths(lengths, D, Dkv, I, V, attn=A, convention="true") == true
    assert prefill_flops_from_lengths(lengths, D, Dkv, I, V) == paper
    with pytest.raises(Exception, match="convention"):
        prefill_flops_from_lengths(lengths, D, Dkv, I, V, convention="causal")


@pytest.mark.parametrize("R", [0.35, 0.25, 0.1])
def test_seats_flops_are_the_sum_over_recorded_layer_counts(thinker, make_inputs, R):
    cfg = load_backbone_config("tiny")
    method = build_method("seats", cfg, {"profile": "paper", "R": R})
    res = generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1, eos_token_ids=EOS)
    rec = res.record
    lengths = [sum(c) for c in rec.layer_counts]
    assert prefill_flops(thinker.config.text_config, rec.layer_counts) == prefill_flops_from_lengths(
        lengths, *geometry_from_cfg(cfg))
    assert lengths == planned_lengths(method, *rec.input_counts)  # the analytic plan is what ran
    assert lengths[-1] == rec.input_counts[0]  # late layers see text only


def test_flops_cli_reports_reduction(capsys):
    from seats_eval.cli import main

    assert main(["flops", "--backbone", "qwen2.5-omni-7b", "--tokens", "11000", "--method", "seats",
                 "--R", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["windows"] == 32 and out["reduction"] > 5
    assert main(["flops", "--tokens", "100", "--method", "seats", "--R", "3"]) == 2


def test_bench_prefill_and_select_produce_reports(tmp_path):
    from seats_eval.bench.profiling import bench_prefill, bench_select
    from seats_eval.bench.report import markdown

    sel = bench_select([("seats", 0.25)], windows=2, hidden=64, repeats=1, warmup=0)
    assert sel["results"][0]["inner_llm_ms"]["n"] == 1
    rep = bench_prefill([("full", None), ("seats", 0.1)], windows=2, repeats=1, warmup=0)
    rows = {r["method"]: r for r in rep["results"]}
    assert rows["seats"]["flops_reduction"] > 1 and "prefill_speedup" in rows["seats"]
    assert "| seats |" in markdown(rep) and "| seats |" in markdown(sel)
