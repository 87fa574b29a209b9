"""`seats-eval breakdown SAMPLES.jsonl`: per-category accuracy recomputed from the
`--log_samples` output of a seats task (columns field, value, n, correct, accuracy)."""

from __future__ import annotations

import argparse
import sys

from ..io.atomic import write_text_atomic

help = "per-category accuracy from an lmms-eval --log_samples jsonl"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("samples", help="<date>_samples_<task>.jsonl written by lmms-eval --log_samples")
    p.add_argument("--by", nargs="+", default=None, help="fields (default: all category fields)")
    p.add_argument("--metric", default=None, help="payload key (default: the dict with 'score')")
    p.add_argument("--out", default=None, help="CSV file to write (default: print the table)")


def run(args: argparse.Namespace) -> int:
    from ..tasklib.scoring import breakdown

    try:
        table = breakdown(args.samples, args.by, args.metric)
    except (OSError, ValueError) as exc:
        print(f"seats-eval breakdown: {args.samples}: not a readable lmms-eval samples JSONL ({exc})",
              file=sys.stderr)
        return 2
    if args.out:
        write_text_atomic(args.out, table.to_csv(index=False, float_format="%.2f"))
        print(f"wrote {args.out} ({len(table)} rows)")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0
