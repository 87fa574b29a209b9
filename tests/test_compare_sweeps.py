"""`seats-eval compare-sweeps`: equal sweeps compare equal, a changed answer or count does not."""

from __future__ import annotations

import json

from seats_eval.cli import main


def _sweep(root, answer="A", video=10, seconds=1.0):
    job = root / "jobs" / "seats_R35"
    (job / "result" / "records").mkdir(parents=True)
    (job / "result" / "output" / "m").mkdir(parents=True)
    rec = {"task": "t", "doc_id": 0, "answer": answer, "layer_counts": [[5, video, 3]], "tflops": 0.1,
           "steps": [{"after_layer": 1, "counts": [5, video, 3], "seconds": seconds}]}
    (job / "result" / "records" / "records.jsonl").write_text(json.dumps(rec) + "\n")
    sample = {"doc_id": 0, "filtered_resps": [answer]}
    (job / "result" / "output" / "m" / "x_samples_t.jsonl").write_text(json.dumps(sample) + "\n")
    return root


def test_compare_sweeps(tmp_path, capsys):
    a = _sweep(tmp_path / "a")
    assert main(["compare-sweeps", str(a), str(_sweep(tmp_path / "b", seconds=9.0))]) == 0  # timings ignored
    assert main(["compare-sweeps", str(a), str(_sweep(tmp_path / "c", answer="B"))]) == 1
    assert main(["compare-sweeps", str(a), str(_sweep(tmp_path / "d", video=11))]) == 1
    assert "DIFFERENT" in capsys.readouterr().out
