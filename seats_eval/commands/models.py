"""`seats-eval models`: every lmms-eval model id this package registers, with its method and backbone."""

from __future__ import annotations

import argparse
import sys

help = "list the lmms-eval model ids (method x backbone) seats-eval registers"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", default=None, help="only the ids of one backbone suffix (qwen25omni, qwen3omni)")


def run(args: argparse.Namespace) -> int:
    from ..models.registry import BACKBONE_SUFFIXES, model_ids

    if args.backbone and args.backbone not in BACKBONE_SUFFIXES:
        print(f"seats-eval models: unknown --backbone {args.backbone!r}; allowed: {', '.join(BACKBONE_SUFFIXES)}",
              file=sys.stderr)
        return 2
    rows = []
    for mid in model_ids():
        suffix = mid.rsplit("_", 1)[-1]
        if args.backbone and suffix != args.backbone:
            continue
        method = mid[: -len(suffix) - 1] if mid != suffix else "full"
        rows.append((mid, method, BACKBONE_SUFFIXES[suffix]))
    width = max(len(r[0]) for r in rows) if rows else 0
    for mid, method, backbone in rows:
        print(f"{mid:<{width}}  {method:<13} {backbone}")
    return 0 if rows else 2
