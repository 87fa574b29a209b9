"""The CI regression on quality: a finished tiny sweep's accuracies against a stored baseline.

The trained tiny models (seats-eval train-tiny) answer the "where" fixture questions, whose
evidence sits in one 2-s window, so a selection that drops the evidence loses accuracy. The
baseline (model_configs/sweeps/baselines/<spec name>.json, committed) holds, per job (method
and R) and per checked task, the number of questions and how many were right. A new run
passes when every job's accuracy stays inside its band:

    the Wilson score interval of the baseline proportion p0 = k0 / n at z = 2.576 (99%),
    i.e. the accuracies a binomial(n, p0) draw lands in 99% of the time, widened by one
    question on each side (so a single tie flipping across machines never fails CI).

The runs are deterministic on CPU, so on the machine that wrote the baseline they reproduce
it exactly; the band is what a selection change must not cross. Writing a new baseline is
deliberate: `seats-eval regression --spec S --out DIR --update` (make regression-baseline).
A toy check: the tiny model's ranking of methods is no evidence about real models.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import REPO, Sweep
from .store import find_results_json, read_json, read_status, write_json_atomic

Z = 2.576  # two-sided 99%
SLACK = 1  # questions of slack on each side of the interval
CHECKED_PREFIX = "seats_fixture_where"  # tasks whose accuracy is checked (the others: crashes only)
BASELINE_DIR = REPO / "model_configs" / "sweeps" / "baselines"


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (fractions in [0, 1])."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def band(k: int, n: int) -> tuple[float, float]:
    """Accuracy band (fractions) of a baseline of k right out of n: see the module docstring."""
    lo, hi = wilson(k, n)
    return max(0.0, lo - SLACK / n), min(1.0, hi + SLACK / n)


@dataclass(frozen=True)
class Cell:
    job: str
    method: str
    R: float | None
    task: str
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def _task_counts(results: dict[str, Any], task: str) -> tuple[int, int] | None:
    """(n, correct) of a task from an lmms-eval results JSON (accuracy in % times n-samples)."""
    metrics = (results.get("results") or {}).get(task) or {}
    acc = next((v for k, v in metrics.items() if k.endswith("_accuracy,none") and isinstance(v, (int, float))), None)
    n = ((results.get("n-samples") or {}).get(task) or {}).get("effective")
    if acc is None or not n:
        return None
    return int(n), int(round(float(acc) / 100.0 * int(n)))


def collect(sweep: Sweep) -> tuple[list[Cell], list[str]]:
    """Cells of the checked tasks over the sweep's jobs, and the jobs that are not done."""
    cells, missing = [], []
    for job in sweep.jobs:
        jdir = sweep.job_dir(job)
        status = read_status(jdir) or {}
        res_path = find_results_json(jdir / "result") if status.get("state") == "done" else None
        results = read_json(res_path) if res_path else None
        if results is None:
            missing.append(job.name)
            continue
        for task in job.tasks:
            if not task.startswith(CHECKED_PREFIX):
                continue
            counts = _task_counts(results, task)
            if counts is None:
                missing.append(f"{job.name} ({task}: no accuracy)")
                continue
            r = job.model_args.get("R")
            cells.append(Cell(job.name, job.method, None if r is None else float(r), task, *counts))
    return cells, missing


def baseline_path(sweep: Sweep) -> Path:
    return BASELINE_DIR / f"{sweep.name}.json"


def write_baseline(sweep: Sweep, cells: list[Cell], path: Path | None = None) -> Path:
    path = path or baseline_path(sweep)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {
        "spec": sweep.name,
        "band": f"Wilson score interval at z={Z} (99%) of the baseline's k/n, widened by {SLACK} question "
                "each side (seats_eval/sweep/regression.py); a job outside it fails the check",
        "note": "tiny trained toy models: the ranking of methods here is no evidence about real models",
        "cells": [{"job": c.job, "method": c.method, "R": c.R, "task": c.task, "n": c.n, "correct": c.correct,
                   "accuracy": round(100 * c.accuracy, 2),
                   "band": [round(100 * x, 2) for x in band(c.correct, c.n)]} for c in cells],
    })
    return path


def check(sweep: Sweep, cells: list[Cell], path: Path | None = None,
          only: str | None = None) -> tuple[bool, list[str]]:
    """(passed, report lines): every baseline cell (of the jobs matching the glob `only`)
    present and inside its band."""
    path = path or baseline_path(sweep)
    base = read_json(path)
    if base is None:
        return False, [f"no baseline {path}: write one with `seats-eval regression --update`"]
    if only:
        base["cells"] = [b for b in base["cells"] if fnmatch.fnmatch(b["job"], only)]
        cells = [c for c in cells if fnmatch.fnmatch(c.job, only)]
        if not base["cells"]:
            return False, [f"no baseline job matches {only!r}"]
    now = {(c.job, c.task): c for c in cells}
    lines = [f"regression check of {sweep.name} against {path} (band: 99% Wilson interval +- {SLACK} question)",
             f"| {'job':<28} | {'task':<26} | {'n':>3} | baseline % | band %        | now %  | verdict |",
             f"|{'-' * 30}|{'-' * 28}|{'-' * 5}|{'-' * 12}|{'-' * 15}|{'-' * 8}|{'-' * 9}|"]
    ok = True
    for b in base["cells"]:
        lo, hi = band(int(b["correct"]), int(b["n"]))
        c = now.get((b["job"], b["task"]))
        if c is None:
            verdict, acc = "MISSING", "-"
        elif c.n != int(b["n"]):
            verdict, acc = f"n={c.n}?", f"{100 * c.accuracy:.1f}"
        else:
            inside = lo - 1e-9 <= c.accuracy <= hi + 1e-9
            verdict, acc = ("ok" if inside else ("LOW" if c.accuracy < lo else "HIGH")), f"{100 * c.accuracy:.1f}"
        ok = ok and verdict == "ok"
        lines.append(f"| {b['job']:<28} | {b['task']:<26} | {int(b['n']):>3} | {float(b['accuracy']):>10.1f} | "
                     f"{100 * lo:5.1f} - {100 * hi:5.1f} | {acc:>6} | {verdict:<7} |")
    extra = sorted(set(now) - {(b["job"], b["task"]) for b in base["cells"]})
    for job, task in extra:
        lines.append(f"(not in the baseline: {job} on {task}; update the baseline to check it)")
    lines.append("PASS" if ok else "FAIL: a method left its band (a selection change that loses the evidence?)")
    return ok, lines
