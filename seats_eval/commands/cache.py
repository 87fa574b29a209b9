"""`seats-eval cache info DIR`: what an encoder-feature cache holds, and which entries are bad."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

help = "inspect an encoder-feature cache folder (entries, size, bad entries)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["info"])
    p.add_argument("dir", help="the cache folder (a sweep's <out>/encoder_cache, or $SEATS_ENCODER_CACHE)")
    p.add_argument("--delete-bad", action="store_true", help="delete entries that fail verification")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def run(args: argparse.Namespace) -> int:
    from ..driver.feature_cache import CorruptEntry, cache_entries, read_entry

    root = Path(args.dir)
    if not root.is_dir():
        print(f"seats-eval cache: {root} is not a folder")
        return 2
    entries = cache_entries(root)
    total = sum(p.stat().st_size for p in entries)
    bad: list[dict[str, str]] = []
    for path in entries:
        try:  # every tensor against its stored hash, exactly as a run would check it
            read_entry(path, key=path.stem)
        except CorruptEntry as exc:
            bad.append({"entry": str(path), "error": str(exc)})
            if args.delete_bad:
                path.unlink(missing_ok=True)
    report = {"dir": str(root), "entries": len(entries), "bytes": total, "bad": bad,
              "deleted": len(bad) if args.delete_bad else 0}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{root}: {len(entries)} entries, {_size(total)}"
              + (f", mean {_size(total / len(entries))}" if entries else ""))
        for b in bad:
            print(f"BAD {b['entry']}: {b['error']}" + (" (deleted)" if args.delete_bad else ""))
        if not bad:
            print("all entries verified")
    return 1 if bad and not args.delete_bad else 0
