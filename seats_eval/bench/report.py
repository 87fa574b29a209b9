"""Bench reports as markdown, and the summary of one scripts/gpu_bench.sh run.

The summary lists every stage with its exit status and time, checks the GPU targets of
issue 17 against the figures of that one run (ratios within one process; the paper's A800
figures beside them), and appends each bench's table. A CPU run is labelled a dry run at
proxy sizes: its figures are not GPU figures and no target is judged on them.

    python -m seats_eval.bench.report --stages STAGES.tsv --out summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# (label, paper figure on the A800, comparison, threshold)
TARGETS = (
    ("Prefill speed-up, SEATS R=0.10 (Qwen2.5-Omni-7B)", "4.8x", ">=", 7.0),
    ("Prefill speed-up, SEATS R=0.35 (Qwen2.5-Omni-7B)", "2.1x", ">=", 2.7),
    ("SEATS selection, Stage I + Stage II, R=0.35 (ms)", "19-34 + 62-92", "<=", 10.0),
    ("Full-token peak memory, Qwen2.5-Omni-7B (GB)", "22.83", "<=", 22.8),
    ("Official Stage I max-min, new / old time on identical tensors", "–", "<=", 0.5),
)


def _fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _select_md(report: dict[str, Any]) -> list[str]:
    lines = [f"Selection time on {report['device']} ({report['backbone']}), {report['windows']} windows "
             f"({report['tokens']} tokens, hidden {report['hidden']}); median {report.get('timed_by', 'ms')} (min-max) over "
             f"{report['repeats']} runs; each method at its default profile (docs/profiles.md)", "",
             "| Method | R | Profile | Pre-LLM ms | Inner-LLM ms |", "|---|---|---|---|---|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['method']} | {_fmt(r['R'], 2)} | | failed: {r['error']} | |")
            continue
        p, i = r["pre_llm_ms"], r["inner_llm_ms"]
        lines.append(f"| {r['method']} | {_fmt(r['R'], 2)} | {r.get('profile') or '–'} | "
                     f"{_fmt(p['median'], 2)} ({_fmt(p['min'], 2)}-"
                     f"{_fmt(p['max'], 2)}) | {_fmt(i['median'], 2)} ({_fmt(i['min'], 2)}-{_fmt(i['max'], 2)}) |")
    if report.get("stage1"):
        from .stage1 import markdown as stage1_markdown

        lines += ["", stage1_markdown(report["stage1"]).rstrip()]
    return lines


def _prefill_md(report: dict[str, Any]) -> list[str]:
    geo = report["geometry"]
    moe = f", {geo['experts']} experts" if geo.get("experts") else ""
    model = report.get("model") or {}
    built = (f" Model: {model['params_b']:.2f} B parameters ({model['dtype']}; encoders: {model['encoders']}"
             + (f"; MoE experts: {model['experts_implementation']}" if "experts_implementation" in model else "")
             + f"), built in {model['build_s']:.1f} s.") if model else ""
    lines = [f"Prefill of {report['backbone']} on {report['device']} ({report['preset']}, {geo['layers']} layers, "
             f"hidden {geo['hidden']}{moe}), {report['windows']} windows = {report['tokens']} tokens; "
             f"median of {report['repeats']} runs after {report['warmup']} warm-up. {report['note']}.{built}", "",
             "TFLOPs in the paper's convention (its reduction), and the reduction of the work run (the true "
             "convention). Drop steps in prefill: host ms inside the prefill; Selection alone: Stage I + drop "
             "steps through the same loop with no layer run, device-synced.", "",
             "| Method | R | TFLOPs (paper x) | True x | Peak GB | Pre-LLM ms | Drop steps in prefill ms | "
             "Selection alone ms | Prefill ms | TTFT ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['method']} | {_fmt(r['R'], 2)} | failed: {r['error']} | | | | | | | |")
            continue
        alone = r.get("selection_alone")
        alone_ms = "–" if not alone else (f"{_fmt(alone['stage1_ms']['median'], 2)} + "
                                          f"{_fmt(alone['drop_steps_ms']['median'], 2)}")
        lines.append(
            f"| {r['method']} | {_fmt(r['R'], 2)} | {r['tflops']:.3f} ({r.get('flops_reduction', 1):.1f}x) | "
            f"{_fmt(r.get('flops_reduction_true'), 2)}x | "
            f"{_fmt(r['peak_mem_gb'], 2)} | {_fmt(r['pre_llm_ms']['median'])} | {_fmt(r['inner_llm_ms']['median'])} | "
            f"{alone_ms} | {_fmt(r['prefill_ms']['median'])} ({_fmt(r.get('prefill_speedup'), 2)}x) | "
            f"{_fmt(r['ttft_ms']['median'])} ({_fmt(r.get('ttft_speedup'), 2)}x) |")
    for label, ops in (report.get("profile") or {}).items():
        lines += ["", f"Profile of one run, {label}: top ops by {report['profile_time']} (torch.profiler)", "",
                  "| Op | ms | share | calls |", "|---|---|---|---|"]
        lines += [f"| `{o['op']}` | {o['ms']:.1f} | {100 * o['share']:.1f}% | {o['calls']} |" for o in ops]
    return lines


def markdown(report: dict[str, Any]) -> str:
    """Table-4-like markdown of a bench report (select or prefill; sharing: its own table)."""
    if report["bench"] == "sharing":
        from .sharing import markdown as sharing_markdown

        return sharing_markdown(report)
    lines = _select_md(report) if report["bench"] == "select" else _prefill_md(report)
    return "\n".join(lines) + "\n"


def _row(report: dict[str, Any] | None, method: str, R: float | None) -> dict[str, Any] | None:
    for r in (report or {}).get("results", []):
        if r["method"] == method and (R is None or (r["R"] is not None and abs(r["R"] - R) < 1e-9)) and "error" not in r:
            return r
    return None


def measured(prefill: dict[str, Any] | None, select: dict[str, Any] | None) -> list[float | None]:
    """The figures of TARGETS, in order, from the Qwen2.5 prefill and the select reports."""
    def speedup(R: float) -> float | None:
        r = _row(prefill, "seats", R)
        return None if r is None else r.get("prefill_speedup")

    sel = _row(select, "seats", 0.35)
    full = _row(prefill, "full", None)
    stage1 = (select or {}).get("stage1") or {}
    return [speedup(0.1), speedup(0.35),
            None if sel is None else sel["pre_llm_ms"]["median"] + sel["inner_llm_ms"]["median"],
            None if full is None else full["peak_mem_gb"],
            stage1.get("ratio") if stage1.get("kept_equal") else None]


def read_stages(path: Path) -> list[dict[str, str]]:
    """Rows `name <TAB> rc <TAB> seconds <TAB> output` written by gpu_bench.sh."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            name, rc, secs, output = (line.split("\t") + ["", "", ""])[:4]
            rows.append({"name": name, "rc": rc, "seconds": secs, "output": output})
    return rows


def _load(path: str) -> dict[str, Any] | None:
    p = Path(path)
    return json.loads(p.read_text()) if path and p.suffix == ".json" and p.is_file() else None


def summary(stages: list[dict[str, str]]) -> str:
    """The markdown summary of one run (see the module docstring)."""
    reports = {s["name"]: _load(s["output"]) for s in stages}
    prefill, select = reports.get("prefill_qwen25"), reports.get("select")
    any_report = next((r for r in reports.values() if r), None)
    on_gpu = any_report is not None and not str(any_report["device"]).startswith("cpu")
    lines = ["# scripts/gpu_bench.sh summary", ""]
    if any_report:
        versions = (prefill or any_report).get("versions") or {}
        lines.append(f"Device: {any_report['device']}; torch {versions.get('torch', '?')}, "
                     f"transformers {versions.get('transformers', '?')}.")
    if not on_gpu:
        lines.append("CPU DRY RUN at proxy sizes: these are not GPU figures, and no target is judged on them.")
    lines += ["", "| Stage | Exit | Seconds | Output |", "|---|---|---|---|"]
    lines += [f"| {s['name']} | {s['rc']} | {s['seconds']} | {Path(s['output']).name if s['output'] else ''} |"
              for s in stages]
    lines += ["", "| Target | Paper (A800) | This run | Met |", "|---|---|---|---|"]
    for (label, paper, op, limit), value in zip(TARGETS, measured(prefill, select), strict=True):
        met = "n/a (CPU dry run)" if not on_gpu else "missing" if value is None else \
            ("yes" if (value >= limit if op == ">=" else value <= limit) else "NO: profile below")
        lines.append(f"| {label} {op} {limit:g} | {paper} | {_fmt(value, 2)} | {met} |")
    for s in stages:
        if reports.get(s["name"]):
            lines += ["", f"## {s['name']}", "", markdown(reports[s["name"]]).rstrip()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="summary of a scripts/gpu_bench.sh run")
    p.add_argument("--stages", required=True, help="the run's stage table (TSV)")
    p.add_argument("--out", required=True, help="markdown file to write")
    args = p.parse_args(argv)
    text = summary(read_stages(Path(args.stages)))
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
