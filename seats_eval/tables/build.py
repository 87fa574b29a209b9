"""The paper's tables built from a sweep: Tables 3 and 8 (methods x R), 4 (efficiency), 5
(ablations) and 9 (lambda)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..sweep.jobs import METHOD_LABELS
from ..sweep.spec import BENCHMARKS, REPO, Sweep, load_spec
from .results import JobResult, about_lines, banner_for, bench_columns, load_results, state_note
from .table import PAPER_DIR, PAPER_FILES, TITLES, Column, Row, Table, paper_number, read_paper


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
    columns = [Column("tflops", "TFLOPs", 1, small_sig=True), *bench_columns(sweep),
               Column("mean", "Mean"), Column("mean_pct", "%"), Column("robust_mean", "Mean (our parser)")]
    full = ours.get(("Full tokens", 100))
    full_mean = full.mean if full is not None and full.state == "done" else None
    rows: list[Row] = []
    notes: list[str] = []
    used: set[Any] = set()

    def ours_values(jr: JobResult | None) -> dict[str, float | None]:
        if jr is None or jr.state != "done":
            return {}
        vals: dict[str, float | None] = {"tflops": jr.tflops, **{b: jr.paper_like.get(b) for b in BENCHMARKS}}
        vals["mean"], vals["robust_mean"] = jr.mean, jr.robust_mean
        vals["mean_pct"] = (100.0 * jr.mean / full_mean) if jr.mean is not None and full_mean else None
        return vals

    for p in paper:
        key = (p["method"], int(float(p["R"])))
        if key[1] not in Rs and key[1] != 100:
            continue
        jr = ours.get(key)
        used.add(key)
        paper_vals = {"tflops": paper_number(p["tflops"]), **{b: paper_number(p[b]) for b in BENCHMARKS},
                      "mean": paper_number(p["mean"]), "mean_pct": paper_number(p["mean_pct"])}
        p_r = {"R": int(float(p["R"])), "R_v": paper_number(p["R_v"]), "R_a": paper_number(p["R_a"])}
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
        note = state_note(f"{key[0]} R={key[1]}", jr)
        if note:
            notes.append(note)
    for key, jr in ours.items():
        if key in used:
            continue
        rows.append(Row(labels={"method": key[0], "R": _rv_ra(jr.job.meta)},
                        csv_labels={"method": key[0], "R": key[1], "R_v": jr.job.meta.get("R_v"),
                                    "R_a": jr.job.meta.get("R_a"), "R_v_paper": "", "R_a_paper": ""},
                        ours=ours_values(jr), paper={}, state=jr.state))
        note = state_note(f"{key[0]} R={key[1]} (not in the paper)", jr)
        if note:
            notes.append(note)
    if not full_mean:
        notes.append("%: not computed: " + ("our full-token Mean is 0." if full_mean == 0
                                            else "no full-token Mean of ours."))
    about = about_lines(sweep, [
        "TFLOPs: LLM prefill per sample (encoders excluded), mean over every sample of the job (records.jsonl). "
        "Mean: of the five benchmarks, only when all five are present. %: Mean / full-token Mean x 100 "
        "(ours from our own full-token row; the paper's as printed)."])
    return Table(kind, TITLES[kind], [("method", "Method"), ("R", "R (R_v-R_a)")], columns, rows, notes,
                 banner_for(sweep), about)


def _bench_values(jr: JobResult | None) -> dict[str, float | None]:
    """A finished job's five benchmark scores and their mean; nothing for any other state."""
    if jr is None or jr.state != "done":
        return {}
    return {**{b: jr.paper_like.get(b) for b in BENCHMARKS}, "mean": jr.mean, "robust_mean": jr.robust_mean}


def _bench_rows(paper: list[dict[str, Any]], ours: dict[Any, JobResult], paper_key, labels,
                extra_note: str) -> tuple[list[Row], list[str]]:
    """Rows of a benchmarks-only table (5, 9): the paper's rows in its order, matched to our
    jobs by `paper_key(p)`, then our jobs the paper lacks. `labels(key, jr_or_p)` -> (label
    columns, note label); `extra_note` marks a row not in the paper."""
    rows, notes, used = [], [], set()

    def add(key: Any, jr: JobResult | None, paper_vals: dict[str, Any], source: Any, suffix: str) -> None:
        cols, label = labels(key, source)
        rows.append(Row(labels=cols, csv_labels=cols, ours=_bench_values(jr), paper=paper_vals,
                        state=jr.state if jr else "not in sweep"))
        note = state_note(label + suffix, jr)
        if note:
            notes.append(note)

    for p in paper:
        key = paper_key(p)
        used.add(key)
        add(key, ours.get(key), {**{b: paper_number(p[b]) for b in BENCHMARKS}, "mean": paper_number(p["mean"])},
            p, "")
    for key, jr in ours.items():
        if key not in used:
            add(key, jr, {}, jr, extra_note)
    return rows, notes


def build_table5(sweep: Sweep, paper_dir: Path = PAPER_DIR, results: list[JobResult] | None = None) -> Table:
    """Table 5: #, Setup, five benchmarks, Mean."""
    results = load_results(sweep) if results is None else results
    ours = _index([jr for jr in results if jr.job.meta.get("row") is not None], lambda jr: str(jr.job.meta["row"]))
    columns = [*bench_columns(sweep), Column("mean", "Mean"), Column("robust_mean", "Mean (our parser)")]

    def labels(rid: str, source: Any) -> tuple[dict[str, str], str]:
        setup = source["setup"] if isinstance(source, dict) else str(source.job.meta.get("label") or source.job.name)
        return {"id": rid, "setup": setup}, f"#{rid} {setup}"

    rows, notes = _bench_rows(read_paper("table5", paper_dir), ours, lambda p: str(p["id"]), labels, "")
    about = about_lines(sweep, ["Mean: of the five benchmarks, only when all five are present."])
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
    columns = [*bench_columns(sweep), Column("mean", "Mean"), Column("robust_mean", "Mean (our parser)")]

    def labels(key: tuple[str, str], _source: Any) -> tuple[dict[str, str], str]:
        return {"method": key[0], "lambda": key[1]}, f"{key[0]} lambda={key[1]}"

    rows, notes = _bench_rows(read_paper("table9", paper_dir), _index(results, _lam_key),
                              lambda p: (p["method"], p["lambda"]), labels, " (not in the paper)")
    about = about_lines(sweep, ["Ours = SEATS; Mean: of the five benchmarks, only when all five are present."])
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
                        ours=vals, paper={c.key: paper_number(p.get(c.key)) for c in columns},
                        state=jr.state if jr else "not in sweep"))
        note = state_note(f"{key[0]} R={key[1]}", jr)
        if note:
            notes.append(note)
        if jr is not None and jr.n_shared:
            notes.append(f"{key[0]} R={key[1]}: {jr.n_shared} question(s) ran on a shared media prefix and are "
                         "left out of the timings; Table 4 is measured with prefix_sharing=false (the spec's default)")
    extra = ["Efficiency: means over the job's samples (records.jsonl): select pre-LLM = Stage I / pre-LLM "
             "selection, select inner-LLM = in-LLM selection, prefill includes in-LLM selection. Peak memory: "
             "only when the records carry `peak_mem_gb`. Mean and %: from the Table 3 sweep"
             + (f" (`{score_sweep.out.relative_to(REPO) if score_sweep.out.is_relative_to(REPO) else score_sweep.out}`)."
                if score_sweep is not None else " (none configured).")]
    if ttft_derived:
        extra.append("TTFT: derived as encoder + pre-LLM selection + prefill seconds (the records carry no "
                     "`ttft_s`); media decoding and the processor are not included.")
    return Table("table4", TITLES["table4"], [("method", "Method"), ("R", "R")], columns, rows, notes,
                 banner_for(sweep), about_lines(sweep, extra))


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
