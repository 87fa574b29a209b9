"""One selection loop (runtime/selection.py): the runtime's drop steps, `seats-eval bench
select` and `seats-eval flops` all turn a method's mask into indices through the same rule
(`kept_index`), and the loop without the LLM keeps, layer by layer, what the runtime kept."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.config import load_backbone_config
from seats_eval.bench.flops import simulated_lengths
from seats_eval.bench.profiling import bench_select
from seats_eval.driver import generate
from seats_eval.methods import build_method
from seats_eval.methods.base import EncoderSignals, PreLLMContext
from seats_eval.runtime import selection

TINY = load_backbone_config("tiny")


@pytest.fixture
def rule_calls(monkeypatch) -> list:
    """Every call of the index rule, recorded as the counts it was given (None: read the mask)."""
    calls: list = []
    original = selection.kept_index

    def spy(keep, expected):
        calls.append(expected)
        return original(keep, expected)

    monkeypatch.setattr(selection, "kept_index", spy)
    return calls


@pytest.mark.parametrize("name,opts", [("seats", {"profile": "paper", "R": 0.35}),
                                       ("seats", {"profile": "official", "R": 0.35}),
                                       ("fastv_om", {"R": 0.35, "K": 1})])
def test_runtime_bench_and_flops_go_through_the_runtime_drop_rule(name, opts, rule_calls, thinker, make_inputs):
    method = build_method(name, TINY, opts)
    steps = method.drop_steps(TINY.num_layers)
    declared = [s.name for s in steps]
    generate(thinker, make_inputs("av_long.mp4"), method, max_new_tokens=1)
    runtime_calls = list(rule_calls)
    assert len(runtime_calls) == len(steps)  # one per drop step: the runtime uses the shared rule
    rule_calls.clear()
    rep = bench_select([(name, opts["R"])], windows=2, hidden=32, repeats=2, warmup=1, backbone="tiny")
    assert "error" not in rep["results"][0]
    # the bench builds the method from id@R (its default profile): per run Stage I (FastV has
    # none) + every drop step
    stage1 = int(name != "fastv_om")
    per_run = stage1 + len(build_method(name, TINY, {"R": opts["R"]}).drop_steps(TINY.num_layers))
    assert len(rule_calls) == 3 * per_run
    assert not stage1 or rule_calls[0] is None  # Stage I reads its mask before the LLM, as the runtime's does
    rule_calls.clear()
    simulated_lengths(method, TINY, n_text=8, windows=2)
    assert len(rule_calls) == stage1 + len(steps)
    if name == "fastv_om" or opts.get("profile") == "paper":  # declared counts: the sync-free sort
        assert all(c is not None for c in runtime_calls) and all(c is not None for c in rule_calls[1:])
    assert declared  # every case has drop steps to go through


def _captured_run(method, thinker, inputs):
    """generate() with the method's Stage I context and every drop step's scores recorded."""
    seen: dict = {"ctx": None, "scores": []}
    pre_llm, in_llm = method.pre_llm, method.in_llm

    def spy_pre(ctx, plan):
        seen["ctx"] = ctx
        return pre_llm(ctx, plan)

    def spy_in(step, scores, layout, plan):
        seen["scores"].append(scores)
        return in_llm(step, scores, layout, plan)

    method.pre_llm, method.in_llm = spy_pre, spy_in
    try:
        record = generate(thinker, inputs, method, max_new_tokens=1).record
    finally:
        del method.pre_llm, method.in_llm
    return record, seen


@pytest.mark.parametrize("name,opts", [("seats", {"profile": "paper", "R": 0.25}),
                                       ("seats", {"profile": "official", "R": 0.25}),
                                       ("seats", {"profile": "official", "R": 0.1, "stage1": "random"}),
                                       ("fastv_om", {"R": 0.35, "K": 1}),
                                       ("visionzip_om", {"R": 0.35})])
def test_the_loop_keeps_what_the_runtime_kept(name, opts, thinker, make_inputs):
    """Given the runtime's Stage I input and its scores, the loop without the LLM keeps per
    layer exactly the runtime's tokens, profile=official's score-dependent counts included."""
    method = build_method(name, TINY, opts)
    record, seen = _captured_run(method, thinker, make_inputs("av_long.mp4"))
    replay = iter(seen["scores"])
    trace = selection.run_selection(method, seen["ctx"], TINY.num_layers, lambda step, layout, h: next(replay))
    assert trace.layer_counts == [tuple(c) for c in record.layer_counts]
    assert torch.equal(trace.layout.position, record.kept_positions[-1])
    assert next(replay, "done") == "done"


def test_bench_select_times_stage1_and_each_step_apart():
    rep = bench_select([("seats", 0.35), ("fastv_om", 0.35)], windows=1, hidden=32, repeats=1, warmup=0,
                       backbone="tiny")
    assert all(r["pre_llm_ms"]["n"] == 1 and r["inner_llm_ms"]["median"] > 0 for r in rep["results"])
    assert "runtime.selection" in rep["loop"]


def test_the_loop_needs_no_model_rows():
    """flops' use: no hidden rows, random scores; Stage I still runs on its own features."""
    method = build_method("seats", TINY, {"R": 0.35})
    lengths = simulated_lengths(method, TINY, n_text=8, windows=2)
    assert len(lengths) == TINY.num_layers and lengths[0] < lengths[0] + 1 and lengths[-1] == 8
    assert lengths == simulated_lengths(method, TINY, n_text=8, windows=2)  # seeded
    ctx = PreLLMContext(torch.randn(5, 4), method_layout(), EncoderSignals())
    assert selection.run_selection(build_method("full", TINY, {}), ctx, 3, lambda *a: None).lengths == [5, 5, 5]


def method_layout():
    from seats_eval.layout import build_layout

    return build_layout(torch.tensor([0, 0, 0, 0, 0]), video_token_id=1, audio_token_id=2, video_grid_thw=None,
                        audio_tokens_per_window=1, sample="text only")
