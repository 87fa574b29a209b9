"""lmms-eval's conventions, end to end through its real CLI (`seats-eval eval`, tiny model,
fixture task): `--gen_kwargs` sampling is honoured and reproducible under `--seed`, the results
JSON carries the token counts (`efficiency`), our cost figures (`throughput`) and the
per-category accuracies, and `--predict_only` reports no score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASK = "seats_fixture_mcq"


def _eval(tmp_path, tiny_dir, clips, out, *extra):
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips), SEATS_RECORD_DIR=str(tmp_path / f"rec-{out}"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "seats_eval.cli", "eval", "--allow-failures", "--model", "seats_qwen25omni",
           "--model_args", f"pretrained={tiny_dir},R=0.35,max_new_tokens=6", "--tasks", TASK,
           "--include_path", str(REPO / "tasks"), "--batch_size", "1", "--output_path", str(tmp_path / out),
           "--log_samples", "--seed", "5", *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results] = list((tmp_path / out).rglob("*_results.json"))
    [samples] = list((tmp_path / out).rglob(f"*{TASK}*.jsonl"))
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    return proc, json.loads(results.read_text()), [r["filtered_resps"] for r in sorted(rows, key=lambda r: r["doc_id"])]


def test_gen_kwargs_efficiency_breakdown_and_predict_only(tmp_path, tiny_dir, clips_dir):
    hot = ("--gen_kwargs", "temperature=3.0,do_sample=True")
    _, res, sampled = _eval(tmp_path, tiny_dir, clips_dir, "hot", *hot)
    _, _, greedy = _eval(tmp_path, tiny_dir, clips_dir, "greedy")
    proc, _, again = _eval(tmp_path, tiny_dir, clips_dir, "again", *hot, "--predict_only")

    assert sampled == again  # the same seed: the same draws, whatever else changed
    assert sampled != greedy  # the temperature reached the decoder
    ours = [line for line in proc.stdout.splitlines() if line.startswith("seats-eval eval:")]
    assert any("predictions only" in line for line in ours) and not any("999" in line for line in ours)

    eff = res["efficiency"]["by_task"][TASK]
    assert eff["docs_with_token_counts"] > 0 and eff["total_input_tokens"] > 0 and eff["total_output_tokens"] > 0
    records = [json.loads(x) for x in (tmp_path / "rec-hot" / "records.jsonl").read_text().splitlines()]
    assert eff["total_input_tokens"] == sum(sum(r["input_counts"]) for r in records)
    thr = res["throughput"]
    assert thr["avg_media_tokens_in"] > thr["avg_media_tokens_llm_input"] > 0  # R = 0.35 dropped some
    assert thr["avg_prefill_tflops"] > 0 and thr["avg_prefill_ms"] > 0

    breakdown = res["results"][TASK]["category_breakdown,none"]
    per_category = breakdown["category"]
    assert sum(v["n"] for v in per_category.values()) == len(records)
    correct = sum(v["accuracy"] * v["n"] / 100 for v in per_category.values())
    assert abs(100 * correct / len(records) - res["results"][TASK]["mcq_accuracy,none"]) < 1e-6
