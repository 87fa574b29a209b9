"""The regression on quality: a finished sweep against a stored baseline or against the paper.

Two references (docs/regression.md has the commands and how to read a failure):

- **a stored baseline of the same setup** (model_configs/sweeps/baselines/<spec name>.json for
  the tiny CI; any file with `--baseline`). It holds, per job (method and R) and task, which
  questions were answered right (`outcomes`, question id -> 0/1, from lmms-eval's
  `--log_samples`), not only k / n. A new run is compared question by question with the
  **exact McNemar test**: of the discordant questions (right before and wrong now: b, wrong
  before and right now: c), b ~ Binomial(b + c, 1/2) when nothing changed; the cell fails
  when the two-sided p-value is below ALPHA = 0.01. Runs that reproduce the baseline have no
  discordant question (p = 1); a single tie flipping across machines never fails (p = 1).
  Beside it, the old unpaired band (the baseline's 99% Wilson interval widened by one
  question each side) is printed; `--test band` makes it the deciding test (a baseline
  without outcomes can only be read that way).
- **the paper** (`--against paper`): each (method, R, benchmark) cell's accuracy on the
  stable subset (tasks/subsets/) against the paper's full-benchmark number (results/paper/).
  If the setup reproduced the paper, the K = round(p N) questions the paper got right of the
  benchmark's N would be hit by the subset's n questions like draws without replacement:
  k ~ Hypergeometric(N, K, n) (the finite-population correction). A cell is `outside` when
  k falls outside the central 1 - ALPHA interval of that law; its two-sided p-value sums the
  probabilities of every count no more likely than k. The subset is stratified by category,
  which only narrows the true spread: the band is conservative.

Writing a new baseline is deliberate: `seats-eval regression --spec S --out DIR --update`
(`make regression-baseline` for the tiny CI). The tiny models' ranking of methods is no
evidence about real models.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import resources
from ..sweep.spec import Sweep, benchmark_of
from ..sweep.store import find_results_json, read_json, read_status, task_scores, write_json_atomic
from ..tasklib.scoring import sample_payload

Z = 2.576  # two-sided 99%, the unpaired band
SLACK = 1  # questions of slack on each side of the band
ALPHA = 0.01  # the paired test's and the paper check's two-sided level
BASELINE_DIR = resources.resource("baselines", check=False)  # a checkout's own, else the packaged ones
TESTS = ("paired", "band", "both")


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
    """One job's result on one task: k of n right, and which questions (id -> 0/1)."""

    job: str
    method: str
    R: float | None
    task: str
    n: int
    correct: int
    outcomes: dict[str, int] | None = field(default=None, compare=False, hash=False)
    authors: int | None = None  # right under the authors' answer extraction, where the task reports it

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


# -- reading a finished sweep ---------------------------------------------------------------
def _task_counts(results: dict[str, Any], task: str) -> tuple[int, int, int | None] | None:
    """(n, correct, correct under the authors' extraction or None) of a task from an lmms-eval
    results JSON (accuracies in % times n-samples)."""
    if task not in (results.get("results") or {}):
        return None
    acc = task_scores(results).get(task)  # the task's named main metric
    off = task_scores(results, authors=True).get(task)
    n = ((results.get("n-samples") or {}).get(task) or {}).get("effective")
    if acc is None or not n:
        return None
    authors = int(round(off / 100.0 * int(n))) if off is not None else None
    return int(n), int(round(float(acc) / 100.0 * int(n))), authors


def read_outcomes(run_dir: Path, task: str) -> dict[str, int] | None:
    """Question id -> 1 (right) / 0 of a task from lmms-eval's `<date>_samples_<task>.jsonl`
    (the payload's `question_id`, else lmms-eval's doc_id); None when no samples were logged."""
    files = sorted((run_dir / "output").rglob(f"*_samples_{task}.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))
    if not files:
        return None
    out: dict[str, int] = {}
    for line in files[-1].read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        payload = sample_payload(row, None)
        if payload is None:
            raise ValueError(f"{files[-1]}: a sample without a per-sample score (doc_id {row.get('doc_id')})")
        qid = payload.get("question_id")
        key = str(qid) if qid is not None else f"doc{row.get('doc_id')}"
        if key in out:
            raise ValueError(f"{files[-1]}: question {key!r} logged twice")
        out[key] = 1 if float(payload["score"]) >= 0.5 else 0
    return out


def collect(sweep: Sweep, tasks: str | None = None) -> tuple[list[Cell], list[str]]:
    """Cells of the sweep's jobs on its tasks (those matching the glob `tasks`, default all
    with an accuracy), and the jobs or tasks without a result."""
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
            if tasks and not fnmatch.fnmatch(task, tasks):
                continue
            counts = _task_counts(results, task)
            if counts is None:
                missing.append(f"{job.name} ({task}: no accuracy)")
                continue
            outcomes = read_outcomes(jdir / "result", task)
            if outcomes is not None and (len(outcomes) != counts[0] or sum(outcomes.values()) != counts[1]):
                raise ValueError(f"{job.name} / {task}: the logged samples ({sum(outcomes.values())} of "
                                 f"{len(outcomes)}) disagree with the results JSON ({counts[1]} of {counts[0]})")
            r = job.model_args.get("R")
            cells.append(Cell(job.name, job.method, None if r is None else float(r), task, counts[0], counts[1],
                              outcomes, counts[2]))
    return cells, missing


# -- the stored baseline --------------------------------------------------------------------
def baseline_path(sweep: Sweep) -> Path:
    return BASELINE_DIR / f"{sweep.name}.json"


def write_baseline(sweep: Sweep, cells: list[Cell], path: Path | None = None) -> Path:
    if path is None and resources.project_dir() is None:  # an installed wheel: not into site-packages
        raise ConfigError("--update outside a project folder: name the file to write with --baseline "
                          f"(or set ${resources.HOME_ENV} to a project folder)")
    path = path or baseline_path(sweep)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {
        "spec": sweep.name,
        "test": f"exact McNemar on the discordant questions, two-sided, alpha={ALPHA}; beside it the band: "
                f"Wilson score interval at z={Z} (99%) of k/n widened by {SLACK} question each side "
                "(seats_eval/tables/regression.py)",
        "note": "per-question outcomes (question id -> 1 right / 0 wrong); tiny models: no evidence about real ones",
        "cells": [{"job": c.job, "method": c.method, "R": c.R, "task": c.task, "n": c.n, "correct": c.correct,
                   "accuracy": round(100 * c.accuracy, 2),
                   "band": [round(100 * x, 2) for x in band(c.correct, c.n)],
                   **({"outcomes": dict(sorted(c.outcomes.items()))} if c.outcomes is not None else {})}
                  for c in cells],
    })
    return path


@dataclass(frozen=True)
class Paired:
    """The exact McNemar test of one cell: b right -> wrong, c wrong -> right."""

    b: int
    c: int
    p: float
    unmatched: int  # questions in only one of the two runs


def mcnemar(base: dict[str, int], now: dict[str, int]) -> Paired:
    """Exact McNemar: b ~ Binomial(b + c, 1/2) under no change (scipy's binomial test)."""
    from scipy.stats import binomtest

    common = base.keys() & now.keys()
    b = sum(1 for q in common if base[q] == 1 and now[q] == 0)
    c = sum(1 for q in common if base[q] == 0 and now[q] == 1)
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return Paired(b, c, float(p), len(base.keys() ^ now.keys()))


def detectable_paired(alpha: float = ALPHA) -> int:
    """The fewest discordant questions, all one way, that the paired test flags."""
    from scipy.stats import binomtest

    k = 1
    while binomtest(k, k, 0.5).pvalue >= alpha:
        k += 1
    return k


def detectable_band(k0: int, n: int) -> int:
    """The fewest questions lost (from a baseline of k0 of n) that leave the band below."""
    lo, _ = band(k0, n)
    d = 0
    while d <= k0 and (k0 - d) / n >= lo - 1e-9:
        d += 1
    return d


def check(sweep: Sweep, cells: list[Cell], path: Path | None = None, only: str | None = None,
          test: str = "paired") -> tuple[bool, list[str]]:
    """(passed, report lines): every baseline cell (of the jobs matching the glob `only`)
    present, on the same questions, and not changed by the deciding `test`."""
    if test not in TESTS:
        raise ValueError(f"test {test!r}; allowed: {', '.join(TESTS)}")
    path = path or baseline_path(sweep)
    base = read_json(path)
    if base is None:
        return False, [f"no baseline {path}: write one with `seats-eval regression --update`"]
    bcells = base["cells"]
    if only:
        bcells = [b for b in bcells if fnmatch.fnmatch(b["job"], only)]
        cells = [c for c in cells if fnmatch.fnmatch(c.job, only)]
        if not bcells:
            return False, [f"no baseline job matches {only!r}"]
    now = {(c.job, c.task): c for c in cells}
    lines = [f"regression check of {sweep.name} against {path}",
             f"  paired: exact McNemar on the discordant questions (b: right -> wrong, c: wrong -> right), "
             f"fails at p < {ALPHA}; flags {detectable_paired()} questions lost with none gained",
             f"  band: 99% Wilson interval of the baseline +- {SLACK} question; deciding test: {test}",
             f"| {'job':<28} | {'task':<30} | {'n':>4} | base % | now %  | b  | c  | p paired | paired  | band %        "
             f"| band | verdict |",
             "|" + "|".join("-" * w for w in (30, 32, 6, 8, 8, 4, 4, 10, 9, 15, 6, 9)) + "|"]
    ok, fallback = True, 0
    for b in bcells:
        k0, n0 = int(b["correct"]), int(b["n"])
        lo, hi = band(k0, n0)
        c = now.get((b["job"], b["task"]))
        row = f"| {b['job']:<28} | {b['task']:<30} | {n0:>4} | {100 * k0 / n0 if n0 else 0:6.1f} | "
        if c is None:
            lines.append(row + f"{'-':>6} | {'-':>2} | {'-':>2} | {'-':>8} | {'-':<7} | {'':<13} | {'-':<4} | MISSING |")
            ok = False
            continue
        band_ok = lo - 1e-9 <= c.accuracy <= hi + 1e-9 and c.n == n0
        band_v = "ok" if band_ok else ("LOW" if c.accuracy < lo else ("HIGH" if c.accuracy > hi else f"n={c.n}"))
        if b.get("outcomes") is not None and c.outcomes is not None:
            pr = mcnemar({str(k): int(v) for k, v in b["outcomes"].items()}, c.outcomes)
            paired_v = "changed" if pr.unmatched else ("FAIL" if pr.p < ALPHA else "ok")
            paired_s = (f"{pr.b:>2} | {pr.c:>2} | {pr.p:8.4f} | "
                        f"{(f'{pr.unmatched} q?' if pr.unmatched else paired_v):<7}")
        else:
            paired_v, paired_s = "n/a", f"{'-':>2} | {'-':>2} | {'-':>8} | {'n/a':<7}"
        if test == "band" or paired_v == "n/a":  # no outcomes on one side: the band alone decides
            fallback += test != "band"
            verdict_ok = band_ok
        elif test == "paired":
            verdict_ok = paired_v == "ok"
        else:
            verdict_ok = band_ok and paired_v == "ok"
        ok = ok and verdict_ok
        lines.append(row + f"{100 * c.accuracy:6.1f} | {paired_s} | {100 * lo:5.1f} - {100 * hi:5.1f} | "
                           f"{band_v:<4} | {'ok' if verdict_ok else 'FAIL':<7} |")
    if fallback:
        lines.append(f"({fallback} cells had no per-question outcomes on one side (a baseline without them, or a "
                     "run without --log_samples): the band decided there)")
    extra = sorted(set(now) - {(b["job"], b["task"]) for b in bcells})
    if extra:
        listed = ", ".join(f"{job} on {task}" for job, task in extra[:4]) + (", ..." if len(extra) > 4 else "")
        lines.append(f"(not in the baseline, unchecked: {len(extra)} job/task pairs: {listed}; update the baseline "
                     "to check them)")
    lines.append("PASS" if ok else "FAIL: a job changed against its baseline (see the verdict column; "
                                   "docs/regression.md: reading a failure)")
    return ok, lines


# -- against the paper ----------------------------------------------------------------------
@dataclass(frozen=True)
class PaperCell:
    """One (method, R, benchmark) cell: k of n on the subset against the paper's accuracy of N."""

    label: str
    R: int | None
    bench: str
    k: int
    n: int
    paper: float  # %
    N: int
    lo: int  # the band, in questions of n
    hi: int
    p: float

    @property
    def inside(self) -> bool:
        return self.lo <= self.k <= self.hi


def hypergeom_check(k: int, n: int, paper_pct: float, N: int, alpha: float = ALPHA) -> tuple[int, int, float]:
    """(lo, hi, p): the central 1 - alpha interval of Hypergeometric(N, K = round(p N), n) in
    questions, and the equal-tailed two-sided p-value of k, 2 min(P(X <= k), P(X >= k)): the
    test the interval inverts, so k is inside exactly when p >= alpha (a minimum-likelihood
    p-value would disagree with the interval on some discrete cells)."""
    from scipy.stats import hypergeom

    if not 0 < n <= N:
        raise ValueError(f"a subset of {n} questions of a benchmark of {N}")
    K = int(round(paper_pct / 100.0 * N))
    law = hypergeom(N, K, n)
    lo, hi = int(law.ppf(alpha / 2)), int(law.isf(alpha / 2))
    p = 2.0 * min(float(law.cdf(k)), float(law.sf(k - 1)))
    return lo, hi, min(1.0, p)


PAPER_TABLES = {"qwen25omni": "table3", "qwen3omni": "table8"}


def benchmark_sizes() -> dict[str, int]:
    """Questions per benchmark (the paper's Table 6, results/paper/table6_benchmarks.csv)."""
    from ..sweep.spec import BENCHMARK_LABELS
    from .table import PAPER_DIR

    by_label = {v: k for k, v in BENCHMARK_LABELS.items()}
    with open(PAPER_DIR / "table6_benchmarks.csv", newline="") as f:
        return {by_label[r["benchmark"]]: int(r["qa_pairs"]) for r in csv.DictReader(f)}


def against_paper(sweep: Sweep, cells: list[Cell], kind: str | None = None,
                  alpha: float = ALPHA) -> tuple[bool, list[str], list[PaperCell]]:
    """(all inside, report lines, cells): every subset cell against the paper's number."""
    from ..sweep.jobs import METHOD_LABELS
    from ..sweep.spec import BENCHMARK_LABELS, BENCHMARKS
    from .table import paper_number, read_paper

    kind = kind or sweep.table or PAPER_TABLES.get(sweep.backbone)
    if kind not in ("table3", "table8"):
        raise ValueError(f"--against paper: which paper table? (spec backbone {sweep.backbone!r}; pass --paper-table)")
    paper = {(r["method"], int(float(r["R"]))): r for r in read_paper(kind)}
    sizes = benchmark_sizes()
    jobs = {j.name: j for j in sweep.jobs}
    out: list[PaperCell] = []
    notes = []
    for c in cells:
        bench = benchmark_of(c.task)
        job = jobs.get(c.job)
        label = METHOD_LABELS.get(c.method, c.method)
        R = job.meta.get("R") if job is not None else None
        row = paper.get((label, R))
        value = paper_number(row.get(bench)) if row is not None and bench in BENCHMARKS else None
        if value is None:
            notes.append(f"(no paper number for {label} R={R} on {c.task})")
            continue
        k = c.authors if c.authors is not None else c.correct
        lo, hi, p = hypergeom_check(k, c.n, value, sizes[bench], alpha)
        out.append(PaperCell(label, R, bench, k, c.n, value, sizes[bench], lo, hi, p))
    lines = [f"{sweep.name} against the paper ({kind}, results/paper/): each cell ours on the subset "
             f"(k/n, the authors' answer extraction where the task reports it) / the paper on the whole benchmark; "
             f"band: the central {100 * (1 - alpha):g}% of Hypergeometric(N, round(paper N), n); p: two-sided",
             "| method | R | " + " | ".join(BENCHMARK_LABELS[b] for b in BENCHMARKS) + " |",
             "|---|---:|" + "---|" * len(BENCHMARKS)]
    rows: dict[tuple[str, Any], dict[str, PaperCell]] = {}
    for pc in out:
        rows.setdefault((pc.label, pc.R), {})[pc.bench] = pc
    for (label, R), by_bench in rows.items():
        cells_s = []
        for b in BENCHMARKS:
            pc = by_bench.get(b)
            cells_s.append("" if pc is None else
                           f"{100 * pc.k / pc.n:.1f} ({pc.k}/{pc.n}) / {pc.paper:.1f} "
                           f"[{100 * pc.lo / pc.n:.1f}-{100 * pc.hi / pc.n:.1f}] p={pc.p:.3f} "
                           f"{'pass' if pc.inside else 'OUTSIDE'}")
        lines.append(f"| {label} | {R} | " + " | ".join(cells_s) + " |")
    lines += notes
    ok = bool(out) and all(pc.inside for pc in out)
    lines.append("PASS: every cell inside its sampling band" if ok else
                 ("FAIL: no cell to compare" if not out else
                  f"FAIL: {sum(not pc.inside for pc in out)} of {len(out)} cells outside their band"))
    return ok, lines, out
