"""What a job leaves on disk, read and written safely: atomic JSON / text writes, the
status file, lmms-eval's results JSON and the job's records, and whether a folder holds a
finished result of a given job (what resuming checks before it skips a job)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ..tasklib.scoring import FAILURES_METRIC, OFFICIAL_METRIC
from .jobs import Job


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON via a temp file in the same folder + rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_status(job_dir: Path) -> dict[str, Any] | None:
    return read_json(job_dir / "status.json")


def find_results_json(run_dir: Path) -> Path | None:
    """lmms-eval writes <output_path>/<model name>/<date>_results.json; take the newest."""
    found = sorted((run_dir / "output").rglob("*_results.json"), key=lambda p: (p.stat().st_mtime, p.name))
    return found[-1] if found else None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line:
                with contextlib.suppress(json.JSONDecodeError):
                    rows.append(json.loads(line))
    return rows


def task_scores(results: dict[str, Any], official: bool = False) -> dict[str, float]:
    """task -> its main metric (`<metric>,none`, not a stderr, not the failure count, not the
    official-extraction accuracy) from an lmms-eval results JSON; with `official`, the
    `mcq_accuracy_official` of the tasks that report it."""
    out: dict[str, float] = {}
    for task, metrics in (results.get("results") or {}).items():
        if not isinstance(metrics, dict):
            continue
        if official:
            value = metrics.get(f"{OFFICIAL_METRIC},none")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[task] = float(value)
            continue
        for key, value in metrics.items():
            if (not key.endswith(",none") or "_stderr" in key or key.startswith(f"{FAILURES_METRIC},")
                    or key.startswith(f"{OFFICIAL_METRIC},") or isinstance(value, (str, bool))):
                continue
            if isinstance(value, (int, float)):
                out[task] = float(value)
                break
    return out


def task_failures(results: dict[str, Any]) -> dict[str, int]:
    """task -> samples the model could not run (the tasks' `sample_failures` metric)."""
    out = {}
    for task, metrics in (results.get("results") or {}).items():
        value = metrics.get(f"{FAILURES_METRIC},none") if isinstance(metrics, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[task] = int(value)
    return out


def job_summary(run_dir: Path) -> dict[str, Any]:
    """Scores per task, mean prefill TFLOPs and timings over the run's records."""
    res_path = find_results_json(run_dir)
    results = read_json(res_path) if res_path else None
    records = _jsonl(run_dir / "records" / "records.jsonl")
    failures = _jsonl(run_dir / "records" / "failures.jsonl")
    summary: dict[str, Any] = {
        "results_json": str(res_path.relative_to(run_dir)) if res_path else None,
        "scores": task_scores(results) if results else {},
        "official_scores": task_scores(results, official=True) if results else {},
        "n_samples": (results or {}).get("n-samples"),
        "n_records": len(records),
        "sample_failures": len(failures),
    }
    tfl = [float(r["tflops"]) for r in records if isinstance(r.get("tflops"), (int, float))]
    summary["tflops"] = sum(tfl) / len(tfl) if tfl else None
    timings: dict[str, list[float]] = {}
    for r in records:
        for k, v in {**(r.get("timings") or {}), **{k: r[k] for k in ("peak_mem_gb", "ttft_s") if k in r}}.items():
            if isinstance(v, (int, float)):
                timings.setdefault(k, []).append(float(v))
    summary["timings"] = {k: sum(v) / len(v) for k, v in timings.items()}
    return summary


def _valid_result(job: Job, run_dir: Path) -> tuple[bool, str]:
    desc = read_json(run_dir / "job.json")
    if desc is None or desc.get("key") != job.key:
        return False, "settings differ"
    res = find_results_json(run_dir)
    if res is None:
        return False, "no results JSON"
    scores = task_scores(read_json(res) or {})
    missing = [t for t in job.tasks if t not in scores]
    if missing:
        return False, f"results JSON lacks task(s) {', '.join(missing)}"
    return True, ""
