"""`seats-eval eval`: lmms-eval's CLI with an exit status a script can trust.

lmms-eval itself exits 0 when the evaluation raises, writes no results, or samples fail;
these runs (the tiny model on the fixture task, real lmms-eval) check that `seats-eval eval`
does not: a planted bug exits non-zero with its traceback, a failed sample is counted in the
results JSON and fails the run unless --allow-failures, a bad --output_path stops at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _eval(tmp_path, tiny_dir, clips, *extra, env_extra=None, out="out", timeout=600):
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips), SEATS_RECORD_DIR=str(tmp_path / out / "rec"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.update(env_extra or {})
    if not env["SEATS_RECORD_DIR"]:  # none set: the records' default folder
        del env["SEATS_RECORD_DIR"]
    cmd = [sys.executable, "-m", "seats_eval.cli", "eval", *extra, "--model", "seats_qwen25omni",
           "--model_args", f"pretrained={tiny_dir},R=0.25", "--tasks", "seats_fixture_mcq",
           "--include_path", str(REPO / "tasks"), "--batch_size", "1", "--output_path", str(tmp_path / out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _results(tmp_path, out="out") -> dict:
    [path] = list((tmp_path / out).rglob("*_results.json"))
    return json.loads(path.read_text())["results"]["seats_fixture_mcq"]


def test_a_clean_run_exits_0_and_reports_failures_beside_the_accuracy(tmp_path, tiny_dir, clips_dir):
    proc = _eval(tmp_path, tiny_dir, clips_dir, env_extra={"SEATS_RECORD_DIR": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = _results(tmp_path)
    assert res["sample_failures,none"] == 0 and "mcq_accuracy,none" in res
    assert "seats_fixture_mcq:" in proc.stdout and "(0 failed sample(s))" in proc.stdout
    # records on by default, in the run's own folder, each row naming that run
    [run] = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    rows = [json.loads(x) for x in (run / "seats_records" / "records.jsonl").read_text().splitlines()]
    assert rows and {r["run_id"] for r in rows} == {run.name} and {r["model"] for r in rows} == {"seats_qwen25omni"}
    assert f"records in {run / 'seats_records'}" in proc.stdout


def test_a_failed_sample_fails_the_run_unless_allowed(tmp_path, tiny_dir, clips_dir):
    clips = tmp_path / "clips"
    shutil.copytree(clips_dir, clips)
    shutil.copy(clips / "corrupt.mp4", clips / "short.mp4")  # one record's video is now corrupt
    proc = _eval(tmp_path, tiny_dir, clips)
    assert proc.returncode == 1 and "1 sample(s) failed" in proc.stderr, proc.stderr[-3000:]
    assert f"{tmp_path / 'out' / 'rec' / 'failures.jsonl'} lists them" in proc.stderr
    assert _results(tmp_path)["sample_failures,none"] == 1
    failures = [json.loads(x) for x in (tmp_path / "out" / "rec" / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and "short.mp4" in failures[0]["video"]
    allowed = _eval(tmp_path, tiny_dir, clips, "--allow-failures", out="out2")
    assert allowed.returncode == 0, allowed.stderr[-3000:]


def _plant_bug(tmp_path):
    """A folder whose sitecustomize makes SEATS's in_llm raise (a programming error)."""
    plant = tmp_path / "plant"
    plant.mkdir()
    (plant / "sitecustomize.py").write_text(
        "from seats_eval.methods.seats import Seats\n"
        "def in_llm(self, *a, **k):\n    raise RuntimeError('planted bug in in_llm')\n"
        "Seats.in_llm = in_llm\n")
    return plant


def test_a_bug_in_a_method_exits_non_zero_with_its_traceback(tmp_path, tiny_dir, clips_dir):
    plant = _plant_bug(tmp_path)
    path = os.pathsep.join([str(plant), str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = _eval(tmp_path, tiny_dir, clips_dir, env_extra={"PYTHONPATH": path})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" in proc.stderr and "RuntimeError: planted bug in in_llm" in proc.stderr
    assert "the evaluation failed: RuntimeError" in proc.stderr
    assert not (tmp_path / "out" / "rec" / "failures.jsonl").exists()  # a bug is not a failed sample


def test_setup_errors_stop_before_anything_loads(tmp_path, tiny_dir, clips_dir):
    blocker = tmp_path / "file"
    blocker.write_text("")
    t = time.time()
    proc = _eval(tmp_path, tiny_dir, clips_dir, out="file/out")  # a path under a regular file
    assert proc.returncode == 2 and "--output_path" in proc.stderr and "not writable" in proc.stderr
    no_out = subprocess.run([sys.executable, "-m", "seats_eval.cli", "eval", "--model", "x"],
                            capture_output=True, text=True, cwd=REPO)
    assert no_out.returncode == 2 and "--output_path is required" in no_out.stderr
    assert time.time() - t < 60


def test_a_sweep_job_with_a_planted_bug_is_failed_not_done(tmp_path, tiny_dir, clips_dir):
    import yaml

    from seats_eval import sweep as sw

    plant = _plant_bug(tmp_path)
    spec = tmp_path / "bug.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "bug", "backbone": "qwen25omni", "out": str(tmp_path / "sweep"), "tasks": ["seats_fixture_mcq"],
        "model_args": {"pretrained": str(tiny_dir)}, "cache": False,
        "env": {"PYTHONPATH": os.pathsep.join([str(plant), str(REPO)]), "SEATS_FIXTURE_CLIPS": str(clips_dir)},
        "jobs": [{"method": "seats", "R": 0.25}]}))
    proc = subprocess.run([sys.executable, "-m", "seats_eval.cli", "sweep", "--spec", str(spec), "--no-progress"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 1, proc.stderr[-3000:]
    [row] = sw.sweep_status(sw.load_spec(spec))
    assert row["state"] == "failed" and "RuntimeError" in row["error"], row
