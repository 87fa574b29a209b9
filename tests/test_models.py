"""The lmms-eval model class: registration, stock equality, failure recording, CLI path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seats_eval.errors import ConfigError
from seats_eval.models.omni import FAILURE_MARKER
from seats_eval.tasklib.prompts import ANALYZE_SUFFIX, QWEN_OMNI_SYSTEM_PROMPT

from .chat import chat_request

REPO = Path(__file__).resolve().parents[1]


def test_ids_are_registered_through_entry_points():
    import lmms_eval.models as registry

    names = registry.list_available_models()
    assert {"qwen25omni", "seats_qwen25omni"} <= set(names)
    assert registry.get_model("seats_qwen25omni").method_id == "seats"


def _request(video, text="Which? A. a B. b", task="seats_fixture_mcq", doc_id=0, system=None):
    return chat_request(video, text, doc_id, task, system=system)


@pytest.fixture(scope="module")
def full_model(tiny_dir, tmp_path_factory):
    from seats_eval.models.ids import Model_qwen25omni

    m = Model_qwen25omni(pretrained=str(tiny_dir), record_dir=str(tmp_path_factory.mktemp("rec")))
    m.task_dict = {"seats_fixture_mcq": {"test": {0: {}, 1: {}}}}
    return m


def test_model_class_equals_stock_generate(full_model, clips_dir, processor, thinker):
    from seats_eval.driver.inputs import build_inputs
    from seats_eval.media.decode import load_media

    path = str(clips_dir / "av_moving.mp4")
    [answer] = [r.text for r in full_model.generate_until([_request(path)])]
    media = load_media(path, fps=2, max_frames=full_model.max_frames_for(None),
                       pixels=full_model.encoder.pixels, audio_max_seconds=full_model.encoder.audio_max_seconds)
    inputs = build_inputs(processor, media, "Which? A. a B. b", system_prompt=QWEN_OMNI_SYSTEM_PROMPT)
    with torch.no_grad():
        ids = thinker.generate(**inputs, use_audio_in_video=True, max_new_tokens=3, do_sample=False)
    stock = processor.tokenizer.decode(
        [t for t in ids[0, inputs["input_ids"].shape[1]:].tolist() if t not in full_model.eos_ids],
        skip_special_tokens=True).strip()
    assert answer == stock


def test_the_tasks_system_turn_is_sent_and_empty_means_empty(full_model, clips_dir, processor):
    from seats_eval.driver.inputs import build_prompt

    path = str(clips_dir / "video_only.mp4")
    full_model.generate_until([_request(path, system=""), _request(path, system="Be brief.", doc_id=1),
                               _request(path, doc_id=1)])
    sent = [r["system_prompt"] for r in full_model.records[-3:]]
    assert sent == ["", "Be brief.", QWEN_OMNI_SYSTEM_PROMPT]  # no turn in the task: Qwen's default
    assert "<|im_start|>system\n<|im_end|>" in build_prompt(processor, "q", "")  # a turn, empty
    full_model.system_prompt = "qwen_analyze"  # the model arg overrides the task's turn
    try:
        full_model.generate_until([_request(path, system="")])
    finally:
        full_model.system_prompt = "auto"
    assert full_model.records[-1]["system_prompt"].endswith(ANALYZE_SUFFIX)


def test_corrupt_and_missing_clips_are_recorded_not_fatal(full_model, clips_dir):
    corrupt, missing = str(clips_dir / "corrupt.mp4"), str(clips_dir / "nope.mp4")
    good = str(clips_dir / "video_only.mp4")
    reqs = [_request(corrupt, doc_id=0), _request(good, doc_id=1),
            _request(missing, doc_id=0)]
    answers = [r.text for r in full_model.generate_until(reqs)]
    assert answers[0].startswith(FAILURE_MARKER) and "corrupt.mp4" in answers[0]
    assert not answers[1].startswith(FAILURE_MARKER)
    assert "nope.mp4" in answers[2] and "does not exist" in answers[2]
    rows = [json.loads(x) for x in (full_model.record_dir / "failures.jsonl").read_text().splitlines()]
    assert {Path(r["video"]).name for r in rows} >= {"corrupt.mp4", "nope.mp4"}


def test_bad_model_args_fail_before_loading(tiny_dir):
    from seats_eval.models.ids import Model_seats_qwen25omni

    with pytest.raises(ConfigError, match="allowed"):
        Model_seats_qwen25omni(pretrained=str(tiny_dir), R=0.3, colour="red")
    with pytest.raises(ConfigError, match="R"):
        Model_seats_qwen25omni(pretrained=str(tiny_dir), R=2)


def test_lmms_eval_cli_runs_seats_end_to_end(tiny_dir, clips_dir, tmp_path):
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips_dir), SEATS_RECORD_DIR=str(tmp_path / "rec"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [str(Path(sys.executable).parent / "lmms-eval"), "--model", "seats_qwen25omni",
           "--model_args", f"pretrained={tiny_dir},R=0.25", "--tasks", "seats_fixture_mcq",
           "--include_path", str(REPO / "tasks"), "--batch_size", "1", "--output_path", str(tmp_path / "out")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results] = list((tmp_path / "out").rglob("*_results.json"))
    data = json.loads(results.read_text())
    assert "seats_fixture_mcq" in data["results"]
    records = [json.loads(x) for x in (tmp_path / "rec" / "records.jsonl").read_text().splitlines()]
    assert records and all(r["layer_counts"][-1][1:] == [0, 0] for r in records)


def test_unwritable_record_or_output_dirs_fail_before_weights_load(tiny_dir, tmp_path, monkeypatch):
    from seats_eval.models import omni
    from seats_eval.models.ids import Model_qwen25omni

    def no_load(*a, **k):
        raise AssertionError("weights loaded before the setup was checked")

    monkeypatch.setattr(omni, "load_thinker", no_load)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="record directory .* is not writable"):
        Model_qwen25omni(pretrained=str(tiny_dir), record_dir=str(blocker / "rec"))
    monkeypatch.setattr(sys, "argv", ["lmms-eval", "--model", "qwen25omni", "--output_path", str(blocker / "out")])
    with pytest.raises(ConfigError, match="--output_path .* is not writable"):
        Model_qwen25omni(pretrained=str(tiny_dir))
