"""`seats-eval tables --spec SPEC`: a sweep's results as the paper's table, beside its numbers.

Writes `<table_out>/<table>.md` and `.csv` (results/ for real runs; results/tiny/ for the
tiny model, whose tables say in their header that they are not real numbers) and the
figures that go with the table (Fig. 1 and 4 with Table 3, Fig. 5 with Table 9). Takes the
same overrides as `seats-eval sweep` so that it finds the same results folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from ..sweep.spec import load_spec
from ..tables import PAPER_DIR, build_table, write_table
from ..tables.figures import figures_for

help = "build a paper table (markdown + CSV, with the paper's numbers) and figures from a sweep"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="YAML path or name under model_configs/sweeps/")
    p.add_argument("--tasks", default=None, help="as for `seats-eval sweep` (fixtures, benchmarks, list)")
    p.add_argument("--out", default=None, help="the sweep's results folder, if overridden for the sweep")
    p.add_argument("--artifacts", default=None, help="as for `seats-eval sweep`")
    p.add_argument("--limit", type=float, default=None, help="as for `seats-eval sweep`")
    p.add_argument("--table-out", default=None, help="folder for the table and figures (default: the spec's)")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--print", action="store_true", help="also print the markdown table")


def make_tables(spec: str, *, tasks: str | None = None, out: str | None = None, artifacts: str | None = None,
                limit: float | None = None, table_out: str | None = None, figures: bool = True,
                paper_dir: Path = PAPER_DIR) -> list[Path]:
    """Build the spec's table (and its figures); return the written paths. It lives here,
    above `tables` (results -> Table) and `figures` (Table -> PNG), so `tables` needs nothing
    of `figures` and the two no longer import each other."""
    sweep = load_spec(spec, tasks=tasks, out=out, artifacts=artifacts, limit=limit)
    dest = Path(table_out) if table_out else sweep.table_out
    table = build_table(sweep, paper_dir)
    written = list(write_table(table, dest))
    if figures:
        written += figures_for(table, sweep, dest)
    return written


def run(args: argparse.Namespace) -> int:
    try:
        paths = make_tables(args.spec, tasks=args.tasks, out=args.out, artifacts=args.artifacts, limit=args.limit,
                            table_out=args.table_out, figures=not args.no_figures)
    except ConfigError as exc:
        print(f"seats-eval tables: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"wrote {p}")
    if args.print:
        md = next(p for p in paths if p.suffix == ".md")
        print(md.read_text())
    return 0
