"""Sweep results -> the paper's Tables 3, 4, 5, 8, 9 (markdown + CSV), beside its numbers.

Our numbers come from each finished job of a sweep (`seats_eval.sweep`): the lmms-eval
results JSON (`<metric>,none`, accuracy on a 0-100 scale) and the job's `records.jsonl`
(mean prefill TFLOPs and timings per sample). The paper's numbers come from
`results/paper/*.csv` (transcribed from the paper, labelled as such there).

Rules, the same for every table:
- a cell of ours is `missing` unless a finished job produced it; nothing is filled in;
- Mean = mean of the five benchmarks, only when all five are present; % = our Mean over our
  full-token Mean x 100 (Tables 3, 4, 8); both from unrounded values;
- rounding: half-up, scores / Mean / % to 1 decimal, TFLOPs to 1 decimal (3 significant
  digits below 1, e.g. the tiny model's), memory to 2, seconds to 3;
- difference = rounded ours - paper, so the three numbers of a cell agree as printed.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .sweep.jobs import METHOD_LABELS, Job
from .sweep.spec import BENCHMARK_LABELS, BENCHMARKS, REPO, Sweep, benchmark_of, load_spec
from .sweep.store import job_summary, read_json, read_status, write_text_atomic

PAPER_DIR = REPO / "results" / "paper"
PAPER_FILES = {
    "table3": "table3_qwen25omni.csv",
    "table4": "table4_efficiency_qwen25omni.csv",
    "table5": "table5_ablations_qwen25omni.csv",
    "table8": "table8_qwen3omni.csv",
    "table9": "table9_lambda_qwen25omni.csv",
}
TITLES = {
    "table3": "Table 3: Qwen2.5-Omni-7B, methods x R on five audio-visual benchmarks",
    "table4": "Table 4: efficiency on Qwen2.5-Omni-7B (WorldSense)",
    "table5": "Table 5: ablations of SEATS on Qwen2.5-Omni-7B (R = 35)",
    "table8": "Table 8: Qwen3-Omni-30B-A3B, methods x R on five audio-visual benchmarks",
    "table9": "Table 9: the Stage I scale lambda (SEATS, Qwen2.5-Omni-7B, R = 35)",
}
MISSING = "missing"
NOT_IN_PAPER = "—"


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


def round_half_up(x: float, decimals: int) -> float:
    """Round like the paper's tables (12.25 -> 12.3), not banker's rounding."""
    q = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP)) + 0.0  # no -0.0


def _sig_decimals(x: float, sig: int = 3) -> int:
    if x == 0:
        return 1
    return max(1, sig - 1 - math.floor(math.log10(abs(x))))


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    decimals: int = 1
    small_sig: bool = False  # below 1: 3 significant digits instead (TFLOPs of the tiny model)

    def decimals_for(self, x: float) -> int:
        if self.small_sig and abs(x) < 1:
            return max(self.decimals, _sig_decimals(x))
        return self.decimals

    def rounded(self, x: float | None) -> float | None:
        return None if x is None else round_half_up(x, self.decimals_for(x))

    def fmt(self, x: float | None) -> str:
        if x is None:
            return ""
        return f"{self.rounded(x):.{self.decimals_for(x)}f}"


def mean_of(values: list[float | None]) -> float | None:
    """Mean when every value is present, else None (never a mean of a subset)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


@dataclass
class Row:
    labels: dict[str, str]                      # printed label cells (markdown)
    csv_labels: dict[str, Any]                  # label columns of the CSV
    ours: dict[str, float | None] = field(default_factory=dict)
    paper: dict[str, float | None] = field(default_factory=dict)
    state: str = ""                             # done / failed / skipped / running / not run / not in sweep


@dataclass
class Table:
    kind: str
    title: str
    label_headers: list[tuple[str, str]]        # (key, header) of the label cells
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    banner: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)

    def cell(self, row: Row, col: Column) -> str:
        ours, paper = row.ours.get(col.key), row.paper.get(col.key)
        o = f"**{col.fmt(ours)}**" if ours is not None else MISSING
        if paper is None:
            return f"{o} / {NOT_IN_PAPER}"
        p = f"{paper:.{col.decimals}f}"
        if ours is None:
            return f"{o} / {p}"
        d = round_half_up(col.rounded(ours) - paper, col.decimals)  # type: ignore[operator]
        return f"{o} / {p} ({d:+.{col.decimals}f})"

    def diff(self, row: Row, col: Column) -> float | None:
        ours, paper = row.ours.get(col.key), row.paper.get(col.key)
        if ours is None or paper is None:
            return None
        return round_half_up(col.rounded(ours) - paper, col.decimals)  # type: ignore[operator]

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        if self.banner:
            out += [f"> {line}" for line in self.banner] + [""]
        out += self.about + [""]
        headers = [h for _, h in self.label_headers] + [c.header for c in self.columns]
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "|".join(["---"] * len(self.label_headers) + ["---:"] * len(self.columns)) + "|")
        for row in self.rows:
            cells = [row.labels[k] for k, _ in self.label_headers] + [self.cell(row, c) for c in self.columns]
            out.append("| " + " | ".join(cells) + " |")
        if self.notes:
            out += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        label_keys = list(self.rows[0].csv_labels) if self.rows else [k for k, _ in self.label_headers]
        header = list(label_keys)
        for c in self.columns:
            header += [c.key, f"{c.key}_paper", f"{c.key}_diff"]
        header.append("state")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for row in self.rows:
            line: list[Any] = [row.csv_labels.get(k, "") for k in label_keys]
            for c in self.columns:
                paper = row.paper.get(c.key)
                d = self.diff(row, c)
                line += [c.fmt(row.ours.get(c.key)), "" if paper is None else f"{paper:.{c.decimals}f}",
                         "" if d is None else f"{d:.{c.decimals}f}"]
            line.append(row.state)
            w.writerow(line)
        return buf.getvalue()


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------


def read_paper(kind: str, paper_dir: Path = PAPER_DIR) -> list[dict[str, str]]:
    path = paper_dir / PAPER_FILES[kind]
    if not path.is_file():
        raise ConfigError(f"the paper's numbers for {kind} are missing: {path}")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(value: str | None) -> float | None:
    if value is None or str(value).strip() in ("", "–", "-", "—"):
        return None
    return float(value)


@dataclass
class JobResult:
    """What a job left behind: its state and, when done, its numbers."""

    job: Job
    state: str
    error: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # benchmark -> score (0-100)
    tflops: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    sample_failures: int = 0

    @property
    def mean(self) -> float | None:
        return mean_of([self.scores.get(b) for b in BENCHMARKS])


def load_results(sweep: Sweep) -> list[JobResult]:
    """One JobResult per job of the spec (pending ones included)."""
    out = []
    for job in sweep.jobs:
        jdir = sweep.job_dir(job)
        st = read_status(jdir) or {}
        state = st.get("state", "not run")
        if state == "done" and st.get("key") != job.key:
            state, err = "stale", "finished with other settings (rerun the sweep with --force)"
        else:
            err = str(st.get("error", ""))
        jr = JobResult(job=job, state=state, error=err)
        if state == "done":
            summ = job_summary(jdir / "result")
            jr.scores = {benchmark_of(t): v for t, v in summ["scores"].items()}
            jr.tflops, jr.timings = summ["tflops"], summ["timings"]
            jr.sample_failures = int(summ["sample_failures"])
        out.append(jr)
    return out


def _about(sweep: Sweep, extra: list[str]) -> list[str]:
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


def _state_note(label: str, jr: JobResult | None) -> str | None:
    if jr is None:
        return f"{label}: no job in this sweep."
    if jr.state == "done":
        if jr.sample_failures:
            return (f"{label}: {jr.sample_failures} sample(s) failed and scored 0 "
                    f"(`{jr.job.name}/result/records/failures.jsonl`).")
        return None
    why = f": {jr.error}" if jr.error else ""
    return f"{label} (job `{jr.job.name}`): {jr.state}{why}"


def _bench_columns(sweep: Sweep) -> list[Column]:
    fixture = sweep.task_set == "fixtures"
    return [Column(b, BENCHMARK_LABELS[b] + (" (fixture)" if fixture else "")) for b in BENCHMARKS]


# ---------------------------------------------------------------------------------------
# Table builders
# ---------------------------------------------------------------------------------------


def _rv_ra(meta_or_row: dict[str, Any]) -> str:
    R, rv, ra = meta_or_row.get("R"), meta_or_row.get("R_v"), meta_or_row.get("R_a")
    if R is None:
        return "?"
    if int(R) == 100:
        return "100"
    return f"{int(R)} ({'?' if rv is None else int(rv)}-{'?' if ra is None else int(ra)})"


def _index(results: list[JobResult], key) -> dict[Any, JobResult]:
    out: dict[Any, JobResult] = {}
    for jr in results:
        k = key(jr)
        # two jobs on one row: prefer a finished one
        if k not in out or (out[k].state != "done" and jr.state == "done"):
            out[k] = jr
    return out


def _method_key(jr: JobResult) -> tuple[str, int | None]:
    return (jr.job.meta.get("method_label") or METHOD_LABELS.get(jr.job.method, jr.job.method), jr.job.meta.get("R"))


def build_method_table(kind: str, sweep: Sweep, paper_dir: Path = PAPER_DIR,
                       results: list[JobResult] | None = None) -> Table:
    """Tables 3 and 8: Method, R (R_v-R_a), TFLOPs, five benchmarks, Mean, %."""
    results = load_results(sweep) if results is None else results
    paper = read_paper(kind, paper_dir)
    ours = _index(results, _method_key)
    Rs = {jr.job.meta.get("R") for jr in results}
    columns = [Column("tflops", "TFLOPs", 1, small_sig=True), *_bench_columns(sweep),
               Column("mean", "Mean"), Column("mean_pct", "%")]
    full = ours.get(("Full tokens", 100))
    full_mean = full.mean if full is not None and full.state == "done" else None
    rows: list[Row] = []
    notes: list[str] = []
    used: set[Any] = set()

    def ours_values(jr: JobResult | None) -> dict[str, float | None]:
        if jr is None or jr.state != "done":
            return {}
        vals: dict[str, float | None] = {"tflops": jr.tflops, **{b: jr.scores.get(b) for b in BENCHMARKS}}
        vals["mean"] = jr.mean
        vals["mean_pct"] = (100.0 * jr.mean / full_mean) if jr.mean is not None and full_mean else None
        return vals

    for p in paper:
        key = (p["method"], int(float(p["R"])))
        if key[1] not in Rs and key[1] != 100:
            continue
        jr = ours.get(key)
        used.add(key)
        paper_vals = {"tflops": _num(p["tflops"]), **{b: _num(p[b]) for b in BENCHMARKS},
                      "mean": _num(p["mean"]), "mean_pct": _num(p["mean_pct"])}
        p_r = {"R": int(float(p["R"])), "R_v": _num(p["R_v"]), "R_a": _num(p["R_a"])}
        r_label = _rv_ra(jr.job.meta) if jr is not None else _rv_ra(p_r)
        if jr is not None and _rv_ra(jr.job.meta) != _rv_ra(p_r):
            r_label += f" [paper: {_rv_ra(p_r)}]"
        rows.append(Row(
            labels={"method": key[0], "R": r_label},
            csv_labels={"method": key[0], "R": key[1],
                        "R_v": jr.job.meta.get("R_v") if jr else "", "R_a": jr.job.meta.get("R_a") if jr else "",
                        "R_v_paper": p_r["R_v"] if p_r["R_v"] is not None else "",
                        "R_a_paper": p_r["R_a"] if p_r["R_a"] is not None else ""},
            ours=ours_values(jr), paper=paper_vals, state=jr.state if jr else "not in sweep"))
        note = _state_note(f"{key[0]} R={key[1]}", jr)
        if note:
            notes.append(note)
    for key, jr in ours.items():
        if key in used:
            continue
        rows.append(Row(labels={"method": key[0], "R": _rv_ra(jr.job.meta)},
                        csv_labels={"method": key[0], "R": key[1], "R_v": jr.job.meta.get("R_v"),
                                    "R_a": jr.job.meta.get("R_a"), "R_v_paper": "", "R_a_paper": ""},
                        ours=ours_values(jr), paper={}, state=jr.state))
        note = _state_note(f"{key[0]} R={key[1]} (not in the paper)", jr)
        if note:
            notes.append(note)
    if not full_mean:
        notes.append("%: not computed: " + ("our full-token Mean is 0." if full_mean == 0
                                            else "no full-token Mean of ours."))
    about = _about(sweep, [
        "TFLOPs: LLM prefill per sample (encoders excluded), mean over every sample of the job (records.jsonl). "
        "Mean: of the five benchmarks, only when all five are present. %: Mean / full-token Mean x 100 "
        "(ours from our own full-token row; the paper's as printed)."])
    return Table(kind, TITLES[kind], [("method", "Method"), ("R", "R (R_v-R_a)")], columns, rows, notes,
                 banner_for(sweep), about)


def _bench_values(jr: JobResult | None) -> dict[str, float | None]:
    """A finished job's five benchmark scores and their mean; nothing for any other state."""
    if jr is None or jr.state != "done":
        return {}
    return {**{b: jr.scores.get(b) for b in BENCHMARKS}, "mean": jr.mean}


def build_table5(sweep: Sweep, paper_dir: Path = PAPER_DIR, results: list[JobResult] | None = None) -> Table:
    """Table 5: #, Setup, five benchmarks, Mean."""
    results = load_results(sweep) if results is None else results
    paper = read_paper("table5", paper_dir)
    ours = _index([jr for jr in results if jr.job.meta.get("row") is not None], lambda jr: str(jr.job.meta["row"]))
    columns = [*_bench_columns(sweep), Column("mean", "Mean")]
    rows, notes, used = [], [], set()

    for p in paper:
        rid = str(p["id"])
        jr = ours.get(rid)
        used.add(rid)
        rows.append(Row(labels={"id": rid, "setup": p["setup"]}, csv_labels={"id": rid, "setup": p["setup"]},
                        ours=_bench_values(jr), paper={**{b: _num(p[b]) for b in BENCHMARKS}, "mean": _num(p["mean"])},
                        state=jr.state if jr else "not in sweep"))
        note = _state_note(f"#{rid} {p['setup']}", jr)
        if note:
            notes.append(note)
    for rid, jr in ours.items():
        if rid in used:
            continue
        label = str(jr.job.meta.get("label") or jr.job.name)
        rows.append(Row(labels={"id": rid, "setup": label}, csv_labels={"id": rid, "setup": label},
                        ours=_bench_values(jr), paper={}, state=jr.state))
        note = _state_note(f"#{rid} {label}", jr)
        if note:
            notes.append(note)
    about = _about(sweep, ["Mean: of the five benchmarks, only when all five are present."])
    return Table("table5", TITLES["table5"], [("id", "#"), ("setup", "Setup")], columns, rows, notes,
                 banner_for(sweep), about)


def _lam_key(jr: JobResult) -> tuple[str, str]:
    if jr.job.method == "full":
        return ("Full tokens", "–")
    lam = jr.job.meta.get("lam")
    return ("Ours", "default" if lam is None else f"{float(lam):.2f}")


def build_table9(sweep: Sweep, paper_dir: Path = PAPER_DIR, results: list[JobResult] | None = None) -> Table:
    """Table 9: Method, lambda, five benchmarks, Mean."""
    results = load_results(sweep) if results is None else results
    paper = read_paper("table9", paper_dir)
    ours = _index(results, _lam_key)
    columns = [*_bench_columns(sweep), Column("mean", "Mean")]
    rows, notes, used = [], [], set()

    for p in paper:
        key = (p["method"], p["lambda"])
        jr = ours.get(key)
        used.add(key)
        rows.append(Row(labels={"method": key[0], "lambda": key[1]},
                        csv_labels={"method": key[0], "lambda": key[1]}, ours=_bench_values(jr),
                        paper={**{b: _num(p[b]) for b in BENCHMARKS}, "mean": _num(p["mean"])},
                        state=jr.state if jr else "not in sweep"))
        note = _state_note(f"{key[0]} lambda={key[1]}", jr)
        if note:
            notes.append(note)
    for key, jr in ours.items():
        if key in used:
            continue
        rows.append(Row(labels={"method": key[0], "lambda": key[1]}, csv_labels={"method": key[0], "lambda": key[1]},
                        ours=_bench_values(jr), paper={}, state=jr.state))
        note = _state_note(f"{key[0]} lambda={key[1]} (not in the paper)", jr)
        if note:
            notes.append(note)
    about = _about(sweep, ["Ours = SEATS; Mean: of the five benchmarks, only when all five are present."])
    return Table("table9", TITLES["table9"], [("method", "Method"), ("lambda", "λ")], columns, rows, notes,
                 banner_for(sweep), about)


# record timing key -> Table 4 column
_T4_TIMINGS = {"select_pre_s": "pre_llm_s", "select_inner_s": "inner_select_s", "prefill_s": "prefill_s"}


def build_table4(sweep: Sweep, paper_dir: Path = PAPER_DIR, results: list[JobResult] | None = None,
                 score_sweep: Sweep | None = None) -> Table:
    """Table 4: Method, R, TFLOPs, peak memory, token selection (pre / inner), prefill, TTFT,
    Mean, %. Efficiency from this sweep's records, Mean / % from the Table 3 sweep."""
    results = load_results(sweep) if results is None else results
    paper = read_paper("table4", paper_dir)
    ours = _index(results, _method_key)
    if score_sweep is None and sweep.scores_from is not None:
        kw = {"tasks": sweep.task_set} if sweep.task_set == "fixtures" else {}
        score_sweep = load_spec(sweep.scores_from, **kw)
    scores = _index(load_results(score_sweep), _method_key) if score_sweep is not None else {}
    full_s = scores.get(("Full tokens", 100))
    full_mean = full_s.mean if full_s is not None and full_s.state == "done" else None
    columns = [Column("tflops", "TFLOPs", 1, small_sig=True), Column("peak_mem_gb", "Peak mem. (GB)", 2),
               Column("select_pre_s", "Select pre-LLM (s)", 3), Column("select_inner_s", "Select inner-LLM (s)", 3),
               Column("prefill_s", "Prefill (s)", 3), Column("ttft_s", "TTFT (s)", 3),
               Column("mean", "Mean"), Column("mean_pct", "%")]
    rows, notes = [], []
    ttft_derived = False
    for p in paper:
        key = (p["method"], int(float(p["R"])))
        jr, sj = ours.get(key), scores.get(key)
        vals: dict[str, float | None] = {}
        if jr is not None and jr.state == "done":
            t = jr.timings
            vals = {"tflops": jr.tflops, "peak_mem_gb": t.get("peak_mem_gb"),
                    **{c: t.get(k) for c, k in _T4_TIMINGS.items()}}
            if "ttft_s" in t:
                vals["ttft_s"] = t["ttft_s"]
            elif all(k in t for k in ("encode_s", "pre_llm_s", "prefill_s")):
                vals["ttft_s"] = t["encode_s"] + t["pre_llm_s"] + t["prefill_s"]
                ttft_derived = True
        if sj is not None and sj.state == "done":
            vals["mean"] = sj.mean
            vals["mean_pct"] = 100.0 * sj.mean / full_mean if sj.mean is not None and full_mean else None
        rows.append(Row(labels={"method": key[0], "R": str(key[1])}, csv_labels={"method": key[0], "R": key[1]},
                        ours=vals, paper={c.key: _num(p.get(c.key)) for c in columns},
                        state=jr.state if jr else "not in sweep"))
        note = _state_note(f"{key[0]} R={key[1]}", jr)
        if note:
            notes.append(note)
    extra = ["Efficiency: means over the job's samples (records.jsonl): select pre-LLM = Stage I / pre-LLM "
             "selection, select inner-LLM = in-LLM selection, prefill includes in-LLM selection. Peak memory: "
             "only when the records carry `peak_mem_gb`. Mean and %: from the Table 3 sweep"
             + (f" (`{score_sweep.out.relative_to(REPO) if score_sweep.out.is_relative_to(REPO) else score_sweep.out}`)."
                if score_sweep is not None else " (none configured).")]
    if ttft_derived:
        extra.append("TTFT: derived as encoder + pre-LLM selection + prefill seconds (the records carry no "
                     "`ttft_s`); media decoding and the processor are not included.")
    return Table("table4", TITLES["table4"], [("method", "Method"), ("R", "R")], columns, rows, notes,
                 banner_for(sweep), _about(sweep, extra))


def build_table(sweep: Sweep, paper_dir: Path = PAPER_DIR) -> Table:
    kind = sweep.table
    if kind in ("table3", "table8"):
        return build_method_table(kind, sweep, paper_dir)
    if kind == "table5":
        return build_table5(sweep, paper_dir)
    if kind == "table9":
        return build_table9(sweep, paper_dir)
    if kind == "table4":
        return build_table4(sweep, paper_dir)
    raise ConfigError(f"sweep {sweep.name}: unknown table {kind!r} (expected one of {', '.join(PAPER_FILES)})")


def write_table(table: Table, out_dir: Path, name: str | None = None) -> tuple[Path, Path]:
    """Write <out_dir>/<kind>.md and .csv (atomically). A folder of not-real numbers (tiny
    model, fixtures, --limit) gets a `.gitignore` so they are never committed by accident."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if table.banner and out_dir.resolve() != (REPO / "results").resolve():
        gi = out_dir / ".gitignore"
        if not gi.exists():
            gi.write_text("# written by seats-eval tables: not real numbers, never committed\n*\n")
    name = name or table.kind
    md, cs = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    write_text_atomic(md, table.markdown())
    write_text_atomic(cs, table.csv())
    return md, cs


__all__ = [
    "Column", "JobResult", "Row", "Table", "build_method_table", "build_table", "build_table4", "build_table5",
    "build_table9", "load_results", "mean_of", "read_json", "read_paper", "round_half_up", "write_table",
]
