"""`seats-eval compare-sweeps A B`: do two sweep folders hold the same per-sample results?

For refactors: every job's per-sample answers (lmms-eval's logged samples) and records
(tokens per layer and modality, drop steps, FLOPs; timings ignored) must be equal.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

help = "compare two sweeps' per-sample answers and records (timings ignored)"
KEYS = ("task", "doc_id", "answer", "input_counts", "llm_input_counts", "layer_counts", "tflops", "steps")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="a sweep folder (its jobs/ holds one folder per job)")
    p.add_argument("b")


def _job(path: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, Any], Any]]:
    records = []
    for line in (path / "result" / "records" / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        row = {k: r.get(k) for k in KEYS}
        row["steps"] = [{k: v for k, v in s.items() if k != "seconds"} for s in row["steps"] or []]
        records.append(row)
    answers = {}
    for f in (path / "result" / "output").rglob("*_samples_*.jsonl"):
        task = f.name.split("_samples_", 1)[1].removesuffix(".jsonl")
        for line in f.read_text().splitlines():
            d = json.loads(line)
            answers[(task, d["doc_id"])] = d["filtered_resps"]
    return sorted(records, key=lambda r: (str(r["task"]), str(r["doc_id"]))), answers


def run(args: argparse.Namespace) -> int:
    a, b = Path(args.a) / "jobs", Path(args.b) / "jobs"
    for folder in (a, b):
        if not folder.is_dir():
            raise ConfigError(f"{folder.parent} is not a sweep folder (no {folder.name}/ folder of jobs in it)")
    names_a, names_b = sorted(p.name for p in a.iterdir()), sorted(p.name for p in b.iterdir())
    if names_a != names_b:
        print(f"different jobs: only in A {sorted(set(names_a) - set(names_b))}, "
              f"only in B {sorted(set(names_b) - set(names_a))}")
        return 1
    differ = 0
    for name in names_a:
        (ra, sa), (rb, sb) = _job(a / name), _job(b / name)
        same = ra == rb and sa == sb
        differ += not same
        print(f"{name}: {'same' if same else 'DIFFERENT'} ({len(ra)} records, {len(sa)} answers)")
    print(f"{len(names_a) - differ} of {len(names_a)} jobs identical")
    return 1 if differ else 0
