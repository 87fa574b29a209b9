"""The quality regression: where questions, the binomial bands, the baseline check, and the
planted broken selection (tests/plants/least_relevant) that must fail it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from seats_eval.media.synth import FIXTURE_KINDS, WHERE_KINDS, render_where, where_question
from seats_eval.sweep.regression import Cell, band, check, wilson, write_baseline

REPO = Path(__file__).resolve().parents[1]
TRAINED = REPO / "seats_eval" / "data" / "tiny_trained" / "qwen2.5-omni"


def test_where_questions_deterministic_and_balanced():
    a, b = where_question(12345), where_question(12345)
    assert a == b
    fa, aa = render_where(a)
    fb, ab = render_where(b)
    assert np.array_equal(fa, fb) and np.array_equal(aa, ab)
    qs = [where_question(i, kind=WHERE_KINDS[i % 5]) for i in range(200)]
    letters = {c: sum(q.answer == c for q in qs) for c in "ABCD"}
    assert all(30 <= n <= 70 for n in letters.values()), letters  # answers spread over the letters
    assert {q.window for q in qs} == set(range(8))  # evidence in every one of the 8 windows


def test_where_evidence_only_in_its_window():
    q = where_question(7, kind="visual_colour")
    frames, audio = render_where(q)
    w = q.window
    coloured = [bool((np.abs(f.astype(int) - 96).max(-1) > 110).any()) for f in frames]  # the object's saturated colour
    assert [i // 4 for i, c in enumerate(coloured) if c] == [w] * 4  # 4 frames = 2 s at 2 fps
    q = where_question(8, kind="audio_pitch")
    _, audio = render_where(q)
    loud = [float(np.abs(audio[i * 32000:(i + 1) * 32000]).max()) > 0.1 for i in range(8)]
    assert loud == [i == q.window for i in range(8)]


def test_wilson_band():
    lo, hi = wilson(57, 60)
    assert 0.8 < lo < 0.95 < hi <= 1.0
    blo, bhi = band(57, 60)
    assert blo == pytest.approx(lo - 1 / 60) and bhi == min(1.0, hi + 1 / 60)
    assert band(15, 60)[0] < 0.25 < band(15, 60)[1]
    assert band(57, 60)[0] > band(30, 60)[1]  # a drop from 95% to 50% leaves the band


def test_check_pass_low_missing(tmp_path):
    sweep = SimpleNamespace(name="t")
    base = [Cell("full", "full", None, "seats_fixture_where_ci", 60, 57),
            Cell("seats_R35_both", "seats", 0.35, "seats_fixture_where_ci", 60, 54)]
    path = write_baseline(sweep, base, tmp_path / "b.json")
    assert json.loads(path.read_text())["cells"][1]["band"][0] < 90
    ok, lines = check(sweep, base, path)
    assert ok and lines[-1] == "PASS"
    worse = [base[0], Cell("seats_R35_both", "seats", 0.35, "seats_fixture_where_ci", 60, 30)]
    ok, lines = check(sweep, worse, path)
    assert not ok and any("LOW" in line for line in lines)
    ok, lines = check(sweep, worse, path, only="full")
    assert ok
    ok, lines = check(sweep, base[:1], path)
    assert not ok and any("MISSING" in line for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(not (TRAINED / "model.safetensors").exists(), reason="no trained tiny model committed")
def test_planted_least_relevant_selection_fails(tmp_path, artifacts):
    """SEATS at R = 0.35 on the 60 CI where questions (what .ci/run checks, without the sweep):
    the real selection keeps most answers of full tokens; the planted bug (keep the least
    relevant tokens) loses the evidence and falls below the band. Slow (two 60-question runs)."""
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(artifacts / "clips"), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

    def accuracy(name: str, planted: bool) -> float:
        run_env = dict(env)
        if planted:
            run_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "plants" / "least_relevant"),
                                                     env.get("PYTHONPATH", "")])
        out = tmp_path / name
        cmd = [sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni", "--model_args",
               f"pretrained={TRAINED},backbone_config=tiny-trained,max_new_tokens=4,R=0.35",
               "--tasks", "seats_fixture_where_ci", "--include_path", str(REPO / "tasks"),
               "--batch_size", "1", "--output_path", str(out)]
        proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert ("PLANTED BUG" in proc.stderr) == planted
        res = json.loads(next(out.rglob("*_results.json")).read_text())
        return float(res["results"]["seats_fixture_where_ci"]["where_accuracy,none"])

    real, planted = accuracy("real", False), accuracy("planted", True)
    lo, _ = band(round(real / 100 * 60), 60)
    assert real >= 70.0, real
    assert planted / 100 < lo, (real, planted)


def test_where_tasks_load_and_score(tmp_path, monkeypatch):
    """The where task's utils: 200 / 60 records, the clip drawn on first use, letter scoring."""
    import importlib.util

    import pyarrow.parquet as pq

    monkeypatch.setenv("SEATS_FIXTURE_CLIPS", str(tmp_path))
    spec = importlib.util.spec_from_file_location("where_utils", REPO / "tasks" / "fixture_where" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    rows = pq.read_table(REPO / "tasks" / "fixtures" / "where" / "test-00000-of-00001.parquet").to_pylist()
    ci = pq.read_table(REPO / "tasks" / "fixtures" / "where_ci" / "test-00000-of-00001.parquet").to_pylist()
    assert len(rows) == 200 and ci == rows[:60]
    assert {r["kind"] for r in rows} == set(FIXTURE_KINDS)
    # the committed records are what the generator draws today (a drawing change that moves
    # a question must regenerate them, and bump synth.WHERE_CLIP_DIR)
    gen_spec = importlib.util.spec_from_file_location("make_where", REPO / "tasks" / "fixtures" / "make_where_fixtures.py")
    gen = importlib.util.module_from_spec(gen_spec)
    gen_spec.loader.exec_module(gen)
    assert gen.where_records(len(rows)) == rows
    doc = rows[3]
    (path,) = utils.doc_to_visual(doc)
    assert Path(path).stat().st_size > 0 and utils.doc_to_visual(doc) == [path]
    assert "Answer with the option's letter" in utils.doc_to_text(doc)
    assert utils.process_results(doc, [doc["answer"]])["where_accuracy"]["score"] == 1.0
