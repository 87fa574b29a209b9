"""train-tiny: deterministic under its seed, and its examples are what the model class feeds."""

from __future__ import annotations

import json

from seats_eval.media.synth import where_question
from seats_eval.train_tiny import ExampleMaker, TrainSettings, question_text, train


def test_two_steps_reproduce(tmp_path):
    runs = []
    for name in ("a", "b"):
        s = TrainSettings(steps=2, batch=1, eval_every=0, warmup=1)
        m = train(s, tmp_path / name, log=lambda _s: None)
        runs.append(m["loss"])
        assert (tmp_path / name / "model.safetensors").stat().st_size < 25 * 2**20
        assert json.loads((tmp_path / name / "seats_tiny.json").read_text())["backbone_config"] == "tiny-trained"
    assert runs[0] == runs[1]


def test_example_ends_with_letter_and_eos():
    maker = ExampleMaker("qwen2.5-omni")
    q = where_question(3)
    ids = maker.inputs(q, None, with_answer=True)["input_ids"][0].tolist()
    assert ids[-2:] == [maker.letter_ids["ABCD".index(q.answer)], maker.eos_id]
    plain = maker.inputs(q, None, with_answer=False)["input_ids"][0].tolist()
    assert plain == ids[:-2]
    assert "Answer with the option's letter" in question_text(q)
