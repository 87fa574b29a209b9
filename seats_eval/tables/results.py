"""What a sweep left behind, per job, and the notes tables print about it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sweep.jobs import Job
from ..sweep.spec import BENCHMARK_LABELS, BENCHMARKS, REPO, Sweep, benchmark_of
from ..sweep.store import UnreadableStatus, job_summary, read_status
from .table import NOT_IN_PAPER, Column, mean_of


@dataclass
class JobResult:
    """What a job left behind: its state and, when done, its numbers."""

    job: Job
    state: str
    error: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # benchmark -> score (0-100), our parser
    authors_scores: dict[str, float] = field(default_factory=dict)  # the authors' extraction
    tflops: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # over the questions that ran alone
    n_shared: int = 0  # questions that ran on a shared media prefix (left out of the timings)
    sample_failures: int = 0

    @property
    def paper_like(self) -> dict[str, float]:
        """What the tables compare with the paper: the score under the authors' answer
        extraction (`mcq_accuracy_authors`) where the task reports it, else the main one."""
        return {**self.scores, **self.authors_scores}

    @property
    def mean(self) -> float | None:
        return mean_of([self.paper_like.get(b) for b in BENCHMARKS])

    @property
    def robust_mean(self) -> float | None:
        """The Mean under our deterministic parser (tasklib/answers.py)."""
        return mean_of([self.scores.get(b) for b in BENCHMARKS])


def load_results(sweep: Sweep) -> list[JobResult]:
    """One JobResult per job of the spec (pending ones included)."""
    out = []
    for job in sweep.jobs:
        jdir = sweep.job_dir(job)
        st = read_status(jdir)
        if isinstance(st, UnreadableStatus):  # never "not run": its result may be there
            out.append(JobResult(job=job, state="unknown", error=f"{st.path} is unreadable ({st.error})"))
            continue
        st = st or {}
        state = st.get("state", "not run")
        if state == "done" and st.get("key") != job.key:
            state, err = "stale", "finished with other settings (rerun the sweep with --force)"
        else:
            err = str(st.get("error", ""))
        jr = JobResult(job=job, state=state, error=err)
        if state == "done":
            summ = job_summary(jdir / "result")
            jr.scores = {benchmark_of(t): v for t, v in summ["scores"].items()}
            jr.authors_scores = {benchmark_of(t): v for t, v in summ["authors_scores"].items()}
            jr.tflops, jr.timings, jr.n_shared = summ["tflops"], summ["timings"], int(summ["n_shared"])
            jr.sample_failures = int(summ["sample_failures"])
        out.append(jr)
    return out


def about_lines(sweep: Sweep, extra: list[str]) -> list[str]:
    try:
        spec = sweep.spec_path.relative_to(REPO)
    except ValueError:
        spec = sweep.spec_path
    try:
        out = sweep.out.relative_to(REPO)
    except ValueError:
        out = sweep.out
    tasks = ", ".join(f"`{t}`" for t in sweep.tasks)
    return [
        f"Ours: sweep `{out}` (spec `{spec}`), tasks {tasks}"
        + (f", lmms-eval --limit {sweep.limit:g}" if sweep.limit is not None else "") + ".",
        "Paper: `results/paper/` (the paper's published numbers, transcribed).",
        "Each cell: **ours** / paper (ours − paper). `missing`: no finished result of ours (see the notes); "
        f"`{NOT_IN_PAPER}`: the paper prints no number there.",
        *extra,
        "Benchmark scores and Mean read each response with the authors' answer extraction "
        "(`mcq_accuracy_authors`, like for like with the paper); `Mean (our parser)`: the same runs "
        "scored by our deterministic parser (tasks/README.md).",
        "Rounding half-up (scores, Mean, % to 1 decimal); the difference is taken between the printed values.",
    ]


def banner_for(sweep: Sweep) -> list[str]:
    if sweep.tiny:
        return [
            "**NOT REAL NUMBERS.** Produced by the tiny randomly initialised Qwen2.5-Omni "
            "(`seats-eval make-tiny`) on the offline fixture tasks (a few records each over generated "
            "clips). It exercises the sweep -> lmms-eval -> table pipeline (the CI regression); its "
            "scores and TFLOPs mean nothing and must not be compared with the paper's.",
        ]
    lines = []
    if sweep.task_set == "fixtures":
        lines.append("**NOT BENCHMARK NUMBERS.** Fixture tasks (a few records over generated clips), not the "
                     "benchmarks.")
    if sweep.limit is not None:
        lines.append(f"**PARTIAL.** lmms-eval --limit {sweep.limit:g}: a subset of every benchmark.")
    return lines


def state_note(label: str, jr: JobResult | None) -> str | None:
    if jr is None:
        return f"{label}: no job in this sweep."
    if jr.state == "done":
        if jr.sample_failures:
            return (f"{label}: {jr.sample_failures} sample(s) failed and scored 0 "
                    f"(`{jr.job.name}/result/records/failures.jsonl`).")
        return None
    why = f": {jr.error}" if jr.error else ""
    return f"{label} (job `{jr.job.name}`): {jr.state}{why}"


def bench_columns(sweep: Sweep) -> list[Column]:
    fixture = sweep.task_set == "fixtures"
    return [Column(b, BENCHMARK_LABELS[b] + (" (fixture)" if fixture else "")) for b in BENCHMARKS]
