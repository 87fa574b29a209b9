"""Spine tests of the pruning runtime: identity with the stock model and equality with an
independent mask-based oracle, under sdpa and eager, on every backbone family (the `spine`
fixture of conftest.py: a new family in backbones/families.py inherits each test)."""

from __future__ import annotations

import pytest
import torch

from seats_eval.backbones.budgets import layer_counts
from seats_eval.driver import generate
from seats_eval.layout import TEXT
from seats_eval.methods import build_method
from seats_eval.methods.base import DropStep, Method, PreLLMResult

from .conftest import EOS
from .oracle import oracle_generate


class ScriptedMethod(Method):
    """Drops by last-text-token score at several layers (all three score sources), a seeded
    random pre-LLM drop, and removes every non-text token late: exercises every path."""

    name = "scripted"

    def __init__(self, pre_keep: float = 0.7, keep: float = 0.6) -> None:
        self.pre_keep, self.keep = pre_keep, keep

    def pre_llm(self, ctx, plan):
        g = torch.Generator().manual_seed(0)
        r = torch.rand(ctx.layout.length, generator=g).to(ctx.layout.modality.device)
        return PreLLMResult((r < self.pre_keep) | ctx.layout.text_mask)

    def drop_steps(self, num_layers):
        return [DropStep(1, "official"), DropStep(2, "next_layer"), DropStep(3, "attention"),
                DropStep(5, None, "late")]

    def in_llm(self, step, scores, layout, plan):
        text = layout.modality == TEXT
        if step.name == "late":
            return text
        assert scores.shape == (layout.length,)
        assert abs(float(scores.sum()) - 1.0) < 1e-4
        k = int(self.keep * int((~text).sum()))
        s = scores.masked_fill(text, float("-inf"))
        keep = torch.zeros_like(text)
        keep[s.topk(k).indices] = True
        return keep | text


def test_identity_with_stock_generate(spine):
    thinker, inputs = spine.thinker(), spine.make_inputs("av_moving.mp4")
    with torch.no_grad():
        ref_logits = thinker(**inputs, use_audio_in_video=True).logits[0, -1]
        ref_ids = thinker.generate(**inputs, use_audio_in_video=True, max_new_tokens=6, do_sample=False)
    res = generate(thinker, inputs, Method(), max_new_tokens=6, eos_token_ids=EOS)
    torch.testing.assert_close(res.prefill_logits, ref_logits.float(), rtol=0, atol=1e-4)
    assert res.tokens == ref_ids[0, inputs["input_ids"].shape[1]:].tolist()
    assert res.record.layer_counts == [res.record.input_counts] * thinker.config.text_config.num_hidden_layers
    # SEATS keeping everything is the stock model too, bit for bit
    seats1 = generate(thinker, inputs, build_method("seats", spine.cfg, {"profile": "paper", "R": 1, "lam": 1,
                                                                         "late_removal": False}),
                      max_new_tokens=6, eos_token_ids=EOS)
    assert seats1.tokens == res.tokens
    torch.testing.assert_close(seats1.prefill_logits, res.prefill_logits, rtol=0, atol=0)


@pytest.mark.parametrize("clip", ["av_moving.mp4", "video_only.mp4", "av_long.mp4"])
@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_pruning_matches_mask_oracle(spine, impl, clip):
    model, inputs = spine.thinker(impl), spine.make_inputs(clip)
    res = generate(model, inputs, ScriptedMethod(), max_new_tokens=5, eos_token_ids=EOS,
                   return_text_logits=True)
    rec = res.record
    assert rec.llm_input_counts[0] == rec.input_counts[0]  # text never dropped
    assert rec.layer_counts[-1][1:] == (0, 0)  # late removal leaves text only
    assert len(rec.kept_positions) == 5
    tokens, logits, text_logits = oracle_generate(model, inputs, rec, max_new_tokens=5, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    torch.testing.assert_close(res.text_logits, text_logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens


@pytest.mark.parametrize("R", [0.35, 0.1])
@pytest.mark.parametrize("clip", ["av_long.mp4", "video_only.mp4"])
def test_seats_matches_oracle_with_exact_counts(spine, R, clip):
    thinker, inputs = spine.thinker(), spine.make_inputs(clip)
    method = build_method("seats", spine.cfg, {"profile": "paper", "R": R})
    res = generate(thinker, inputs, method, max_new_tokens=4, eos_token_ids=EOS, return_text_logits=True)
    tokens, logits, text_logits = oracle_generate(thinker, inputs, res.record, max_new_tokens=4, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)
    torch.testing.assert_close(res.text_logits, text_logits, rtol=0, atol=1e-4)
    assert res.tokens == tokens
    n_text, n_v, n_a = res.record.input_counts
    c = layer_counts(method.schedule, n_v, n_a)
    assert [x[1] for x in res.record.layer_counts] == c["video"]
    assert [x[2] for x in res.record.layer_counts] == c["audio"]


def test_oracle_detects_a_wrong_cache(spine, monkeypatch):
    """The oracle is only worth something if it fails on a broken runtime."""
    from seats_eval.runtime.kv_cache import PrunableCache

    thinker, inputs = spine.thinker(), spine.make_inputs("av_moving.mp4")
    # keep the stale K/V of dropped tokens (what a renamed cache keyword did before layer_call)
    monkeypatch.setattr(PrunableCache, "keep_positions", lambda *args: None)
    res = generate(thinker, inputs, ScriptedMethod(), max_new_tokens=5, eos_token_ids=EOS)
    tokens, logits, _ = oracle_generate(thinker, inputs, res.record, max_new_tokens=5, eos=EOS)
    torch.testing.assert_close(res.prefill_logits, logits, rtol=0, atol=1e-4)  # prefill unaffected
    assert len(tokens) > 1 and res.tokens != tokens


def test_each_layer_cache_is_pruned_once(spine, monkeypatch):
    """Every layer up to the last drop step is pruned exactly once (from the positions it saw
    to the survivors), not once per later drop step; the oracle tests above check the result."""
    from seats_eval.runtime.kv_cache import PrunableCache

    pruned: list[int] = []
    original = PrunableCache.keep_positions

    def counting(cache, layers, length, rows_on):
        pruned.extend(layers)
        return original(cache, layers, length, rows_on)

    monkeypatch.setattr(PrunableCache, "keep_positions", counting)
    res = generate(spine.thinker(), spine.make_inputs("av_moving.mp4"), ScriptedMethod(), max_new_tokens=2,
                   eos_token_ids=EOS)
    assert pruned == list(range(max(res.record.step_layers) + 1))
