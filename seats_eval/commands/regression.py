"""`seats-eval regression --spec SPEC`: check a finished sweep against its stored baseline
(exact McNemar on the per-question outcomes, the Wilson band beside it) or, with
`--against paper`, each subset cell against the paper's number (hypergeometric band);
`--update` writes the baseline. Tests and reading a failure: docs/regression.md."""

from __future__ import annotations

import argparse
import sys

help = "check a finished sweep against its stored baseline (paired test) or the paper (--against paper)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="YAML path or name under model_configs/sweeps/")
    p.add_argument("--tasks", default=None, help="as for `seats-eval sweep` (fixtures | benchmarks | a,b,c)")
    p.add_argument("--out", default=None, help="the sweep's results folder, if overridden for the sweep")
    p.add_argument("--artifacts", default=None, help="as for `seats-eval sweep`")
    p.add_argument("--baseline", default=None, help="baseline JSON (default model_configs/sweeps/baselines/<name>.json)")
    p.add_argument("--only", default=None, help="check only the jobs whose name matches this glob")
    p.add_argument("--check-tasks", default=None, metavar="GLOB",
                   help="check only the tasks matching this glob (default: every task with an accuracy)")
    p.add_argument("--test", default="paired", choices=("paired", "band", "both"),
                   help="the deciding test against a baseline (default paired: exact McNemar)")
    p.add_argument("--against", default="baseline", choices=("baseline", "paper"),
                   help="the reference: the stored baseline (default) or the paper's numbers")
    p.add_argument("--paper-table", default=None, choices=("table3", "table8"),
                   help="with --against paper: the paper's table (default: the spec's table / backbone)")
    p.add_argument("--update", action="store_true", help="write the baseline from this run (deliberate)")


def run(args: argparse.Namespace) -> int:
    import fnmatch
    from pathlib import Path

    from ..sweep.spec import load_spec
    from ..tables.regression import against_paper, check, collect, write_baseline

    sweep = load_spec(args.spec, tasks=args.tasks, out=args.out, artifacts=args.artifacts)
    cells, missing = collect(sweep, args.check_tasks)
    if args.only:
        missing = [m for m in missing if fnmatch.fnmatch(m.split(" ")[0], args.only)]
    baseline = Path(args.baseline) if args.baseline else None
    if args.update:
        if missing:
            print(f"regression: not writing a baseline, jobs not done: {', '.join(missing)}", file=sys.stderr)
            return 1
        if not cells:
            print("regression: no task with an accuracy in this sweep", file=sys.stderr)
            return 1
        if any(c.outcomes is None for c in cells):
            print("regression: some tasks logged no samples (run the sweep with --log_samples); the baseline "
                  "keeps k/n only there", file=sys.stderr)
        print(f"regression baseline written: {write_baseline(sweep, cells, baseline)} ({len(cells)} cells)")
        return 0
    if args.only:
        cells = [c for c in cells if fnmatch.fnmatch(c.job, args.only)]
    if args.against == "paper":
        ok, lines, _ = against_paper(sweep, cells, args.paper_table)
    else:
        ok, lines = check(sweep, cells, baseline, only=args.only, test=args.test)
    print("\n".join(lines))
    if missing:
        print(f"jobs without results: {', '.join(missing)}", file=sys.stderr)
        ok = ok and args.against == "baseline"  # a missing job is already MISSING in the baseline check
    return 0 if ok else 1
