"""train-tiny: deterministic under its seed, its examples are what the model class feeds, and
a batch is the same forward as its examples one by one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seats_eval.models.omni import tiny_backbone
from seats_eval.toys.synth import render_where, where_question
from seats_eval.toys.train import (
    SYSTEM_PROMPTS,
    ExampleMaker,
    TrainSettings,
    collate,
    evidence_span,
    question_text,
    train,
    trained_thinker_config,
)


def test_two_steps_reproduce(tmp_path):
    runs = []
    for name in ("a", "b"):
        s = TrainSettings(steps=2, batch=2, eval_every=0, warmup=1)
        m = train(s, tmp_path / name, log=lambda _s: None)
        runs.append(m["loss"])
        assert (tmp_path / name / "model.safetensors").stat().st_size < 25 * 2**20
        assert json.loads((tmp_path / name / "seats_tiny.json").read_text())["backbone_config"] == "tiny-trained"
        assert tiny_backbone(str(tmp_path / name)) == "tiny-trained"  # the model class finds its config
    assert runs[0] == runs[1]


def test_example_ends_with_letter_and_eos():
    maker = ExampleMaker("qwen2.5-omni")
    q = where_question(3)
    ids = maker.inputs(q, None, with_answer=True)["input_ids"][0].tolist()
    assert ids[-2:] == [maker.letter_ids["ABCD".index(q.answer)], maker.eos_id]
    plain = maker.inputs(q, None, with_answer=False)["input_ids"][0].tolist()
    assert plain == ids[:-2]
    assert "Answer with the option's letter" in question_text(q)


@pytest.mark.parametrize("backbone", ["qwen2.5-omni", "qwen3-omni"])
def test_batch_equals_examples_one_by_one(backbone):
    """Left padding must not move the answer positions nor change M-RoPE: a planted bug
    (right padding, or positions counted over the pads) changes these logits."""
    from transformers import (
        Qwen2_5OmniThinkerForConditionalGeneration,
        Qwen3OmniMoeThinkerForConditionalGeneration,
    )

    torch.manual_seed(0)
    cls = Qwen3OmniMoeThinkerForConditionalGeneration if backbone == "qwen3-omni" else (
        Qwen2_5OmniThinkerForConditionalGeneration)
    model = cls(trained_thinker_config(backbone)).eval()
    maker = ExampleMaker(backbone)
    qs = [where_question(10**6 + i, span=1 + i % 3) for i in range(3)]
    examples = [maker.inputs(q, SYSTEM_PROMPTS[i + 2], with_answer=True) for i, q in enumerate(qs)]
    assert len({e["input_ids"].shape[1] for e in examples}) > 1  # the batch really pads
    with torch.no_grad():
        batched = model(**collate(examples, maker.pad_id), use_cache=False, use_audio_in_video=True).logits[:, -3:]
        for i, e in enumerate(examples):
            alone = model(**e, use_cache=False, use_audio_in_video=True).logits[0, -3:]
            torch.testing.assert_close(batched[i], alone, atol=1e-5, rtol=1e-5)


def test_evidence_span_curriculum():
    total, cur = 100, 0.3
    tops = [max(evidence_span(s, total, cur, seed) for seed in range(200)) for s in (0, 15, 30, 99)]
    assert tops[0] == 8 and 1 < tops[1] < 8 and tops[2] == tops[3] == 1
    q = where_question(11, kind="visual_colour", span=3)
    frames, _ = render_where(q)
    coloured = [bool((np.abs(f.astype(int) - 96).max(-1) > 110).any()) for f in frames]
    assert sorted({i // 4 for i, c in enumerate(coloured) if c}) == [q.window, q.window + 1, q.window + 2]
    conj = where_question(12, kind="av_conjunction", span=5)
    assert conj.span == 2  # four objects must still fit in eight windows
    assert where_question(13, span=1) == where_question(13)  # span 1 is the evaluation's question
