"""What a job leaves on disk, read and written safely (writes go through seats_eval/io/atomic.py):
the status file (an unparsable one reads as unknown, never as pending), lmms-eval's results
JSON and the job's records, and whether a folder holds a finished result of a given job
(what resuming checks before it skips a job)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.atomic import write_json_atomic as write_json_atomic  # re-exported: the sweep's writers
from ..io.atomic import write_text_atomic as write_text_atomic
from ..tasklib.scoring import AUTHORS_METRIC, BREAKDOWN_METRIC, FAILURES_METRIC
from .jobs import Job

# the authors' metric's name in results written before it was renamed (finished jobs stay readable)
AUTHORS_METRIC_BEFORE = "mcq_accuracy_official"
# metrics a task reports beside its score: never its main metric
AUXILIARY_METRICS = (FAILURES_METRIC, AUTHORS_METRIC, AUTHORS_METRIC_BEFORE, BREAKDOWN_METRIC)


class UnreadableStatus(dict):
    """A status.json that exists but does not parse as a JSON object (truncated, garbage,
    `["done"]`): its job's state is unknown. It is never taken for pending: a finished
    result may sit beside it, so the job is neither rerun nor its result deleted without
    `--force`. Empty as a mapping (`.get` gives defaults); `error` says what was wrong."""

    def __init__(self, path: Path, error: str) -> None:
        super().__init__()
        self.path = path
        self.error = error


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_status(job_dir: Path) -> dict[str, Any] | None:
    """The job's status: None when it has none (pending), an `UnreadableStatus` when the
    file is there but is not a JSON object."""
    path = job_dir / "status.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return UnreadableStatus(path, f"{type(exc).__name__}: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return UnreadableStatus(path, f"not JSON ({exc})")
    if not isinstance(data, dict):
        return UnreadableStatus(path, f"not a JSON object ({type(data).__name__})")
    return data


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


def main_metric(results: dict[str, Any], task: str) -> str:
    """The metric a task names as its score: `metadata.main_metric` of its YAML, which
    lmms-eval copies into the results JSON (`configs`). A task that names none (results
    written before tasks named one) is read when it lists one metric besides the auxiliary
    ones (failures, the authors' extraction, breakdowns); with several it is refused:
    taking the first in dict order would report whatever metric was listed first."""
    config = (results.get("configs") or {}).get(task) or {}
    named = (config.get("metadata") or {}).get("main_metric")
    if named:
        return str(named)
    listed = [m.get("metric") for m in config.get("metric_list") or [] if isinstance(m, dict)]
    candidates = [m for m in listed if m and m not in AUXILIARY_METRICS]
    if len(candidates) == 1:
        return str(candidates[0])
    raise ConfigError(f"task {task} names no main metric (metadata: main_metric: in its YAML) and lists "
                      f"{', '.join(map(str, candidates)) or 'no metric'}: which one is its score is undecided")


def task_scores(results: dict[str, Any], authors: bool = False) -> dict[str, float]:
    """task -> its main metric (`main_metric`) from an lmms-eval results JSON; with
    `authors`, the `mcq_accuracy_authors` of the tasks that report it. A task whose
    metric is missing or not a number gets no score."""
    out: dict[str, float] = {}
    for task, metrics in (results.get("results") or {}).items():
        if not isinstance(metrics, dict):
            continue
        metric = AUTHORS_METRIC if authors else main_metric(results, task)
        value = metrics.get(f"{metric},none")
        if value is None and authors:
            value = metrics.get(f"{AUTHORS_METRIC_BEFORE},none")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[task] = float(value)
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
    """Scores per task, mean prefill TFLOPs over the run's records, and mean timings over the
    records of questions that ran alone (`n_shared`: those that ran on a shared prefix)."""
    res_path = find_results_json(run_dir)
    results = read_json(res_path) if res_path else None
    records = _jsonl(run_dir / "records" / "records.jsonl")
    failures = _jsonl(run_dir / "records" / "failures.jsonl")
    summary: dict[str, Any] = {
        "results_json": str(res_path.relative_to(run_dir)) if res_path else None,
        "scores": task_scores(results) if results else {},
        "authors_scores": task_scores(results, authors=True) if results else {},
        "n_samples": (results or {}).get("n-samples"),
        "n_records": len(records),
        "sample_failures": len(failures),
    }
    tfl = [float(r["tflops"]) for r in records if isinstance(r.get("tflops"), (int, float))]
    summary["tflops"] = sum(tfl) / len(tfl) if tfl else None
    # Timings are the cost of a question run alone: a question that ran on a shared media
    # prefix (prefix sharing, runtime/prefix.py) paid less than that, so it is left out of them.
    alone = [r for r in records if not r.get("shared_prefix_tokens")]
    summary["n_shared"] = len(records) - len(alone)
    timings: dict[str, list[float]] = {}
    for r in alone:
        for k, v in {**(r.get("timings") or {}), **{k: r[k] for k in ("peak_mem_gb", "ttft_s") if k in r}}.items():
            if isinstance(v, (int, float)):
                timings.setdefault(k, []).append(float(v))
    summary["timings"] = {k: sum(v) / len(v) for k, v in timings.items()}
    return summary


def _valid_result(job: Job, run_dir: Path) -> tuple[bool, str]:
    desc = read_json(run_dir / "job.json")
    if not isinstance(desc, dict) or desc.get("key") != job.key:
        return False, "settings differ"
    res = find_results_json(run_dir)
    if res is None:
        return False, "no results JSON"
    data = read_json(res)
    if not isinstance(data, dict):
        return False, f"results JSON {res.name} is unreadable"
    scores = task_scores(data)
    missing = [t for t in job.tasks if t not in scores]
    if missing:
        return False, f"results JSON lacks task(s) {', '.join(missing)}"
    return True, ""
