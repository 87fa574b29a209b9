"""`seats-eval regression --spec SPEC`: check a finished tiny sweep's accuracies against the
committed baseline (bands: seats_eval/sweep/regression.py); `--update` writes the baseline."""

from __future__ import annotations

import argparse
import sys

help = "check a finished tiny sweep's accuracy per method and R against its stored baseline (--update: write it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="YAML path or name under model_configs/sweeps/")
    p.add_argument("--tasks", default=None, help="as for `seats-eval sweep`")
    p.add_argument("--out", default=None, help="the sweep's results folder, if overridden for the sweep")
    p.add_argument("--artifacts", default=None, help="as for `seats-eval sweep`")
    p.add_argument("--baseline", default=None, help="baseline JSON (default model_configs/sweeps/baselines/<name>.json)")
    p.add_argument("--only", default=None, help="check only the baseline's jobs whose name matches this glob")
    p.add_argument("--update", action="store_true", help="write the baseline from this run (deliberate)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..sweep.regression import check, collect, write_baseline
    from ..sweep.spec import load_spec

    sweep = load_spec(args.spec, tasks=args.tasks, out=args.out, artifacts=args.artifacts)
    cells, missing = collect(sweep)
    baseline = Path(args.baseline) if args.baseline else None
    if args.update:
        if missing:
            print(f"regression: not writing a baseline, jobs not done: {', '.join(missing)}", file=sys.stderr)
            return 1
        if not cells:
            print("regression: no checked task (seats_fixture_where*) in this sweep", file=sys.stderr)
            return 1
        print(f"regression baseline written: {write_baseline(sweep, cells, baseline)} ({len(cells)} cells)")
        return 0
    ok, lines = check(sweep, cells, baseline, only=args.only)
    print("\n".join(lines))
    if missing and not args.only:
        print(f"jobs without results: {', '.join(missing)}", file=sys.stderr)
    return 0 if ok else 1
