"""`seats-eval bench stage1`: the official Stage I max-min as the product path computes it
(select/diversity.py `official_stage1`: one normalised copy of the embeddings, one greedy
loop for every window) against the authors' order of operations (`authors_stage1`: two
gathers and a normalised copy, one loop per window size), on identical tensors in one run
(time ratio and op counts). Both run on the tiles SEATS (profile=official) cuts from a
WorldSense-sized synthetic sample (`windows` 2-s windows of 288 video + 50 audio tokens)
with random embeddings of the backbone's width and random encoder attention. The product
path must keep exactly the authors' sets (its distances are theirs bit for bit): a
difference raises, it is never a figure.

Op count: aten operators dispatched in one call (a TorchDispatchMode counter), all of them
and those that are not views (on a GPU each of the latter is at least one kernel launch).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from ..backbones.config import load_backbone_config
from ..methods import build_method
from ..methods.base import PreLLMContext
from ..select.diversity import Tiling, authors_stage1, official_stage1
from .profiling import _device_name, _sync, selection_inputs


# -- counting and timing ---------------------------------------------------------------------
class OpCounter(TorchDispatchMode):
    """Counts the aten operators dispatched while active: all, and those that are not views."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.kernels = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        if not func.is_view:
            self.kernels += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn) -> dict[str, int]:
    with OpCounter() as counter:
        fn()
    return {"ops": counter.ops, "non_view_ops": counter.kernels}


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def stage1_inputs(windows: int, hidden: int | None, R: float, backbone: str, dev: torch.device,
                  seed: int = 0) -> tuple[Tensor, list[Tiling], int]:
    """(embeddings (S, hidden), SEATS' official Stage I tiles of them, S) of a synthetic
    WorldSense-sized sample; fp32 on a CPU, bf16 on a GPU (the model's dtype)."""
    cfg = load_backbone_config(backbone)
    syn, embeds, sig, _ = selection_inputs(windows, cfg, int(hidden or cfg.llm.hidden_size), dev, seed)
    S = syn.layout.length
    method = build_method("seats", cfg, {"R": R, "profile": "official"})
    tiles = list(method.official_tilings(PreLLMContext(embeds, syn.layout, sig, "synthetic")).values())
    return embeds, tiles, S


def bench_stage1(windows: int = 32, hidden: int | None = None, R: float = 0.35, repeats: int = 10,
                 warmup: int = 2, device: str = "cpu", backbone: str = "qwen2.5-omni-7b",
                 seed: int = 0) -> dict[str, Any]:
    """The authors' order ("old") and the product path ("new"), alternated on identical
    tensors: wall ms and, on a CPU, process CPU ms; their ratio new / old; op counts of one
    call each. Unequal kept sets raise."""
    dev = torch.device(device)
    embeds, tiles, S = stage1_inputs(windows, hidden, R, backbone, dev, seed)
    impls = {"old": lambda: authors_stage1(embeds, tiles), "new": lambda: official_stage1(embeds, tiles)}
    old_keep, new_keep = impls["old"](), impls["new"]()
    equal = bool(torch.equal(old_keep, new_keep))
    if not equal:  # the product path must be the authors' Stage I: a bug, not a figure
        raise RuntimeError(f"official_stage1 kept {int((old_keep != new_keep).sum())} tokens differently "
                           f"from the authors' order ({S} tokens, hidden {embeds.shape[1]}, seed {seed})")
    wall: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    for it in range(warmup + repeats):
        for name, fn in impls.items():
            _sync(dev)
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            _sync(dev)
            t1, c1 = time.perf_counter(), time.process_time()
            if it >= warmup:
                wall[name].append((t1 - t0) * 1e3)
                cpu[name].append((c1 - c0) * 1e3)
    rows = {}
    for name, fn in impls.items():
        rows[name] = {"wall_ms": _stats(wall[name]), **count_ops(fn)}
        if dev.type == "cpu":
            rows[name]["cpu_ms"] = _stats(cpu[name])
    key = "cpu_ms" if dev.type == "cpu" else "wall_ms"
    return {
        "bench": "stage1", "device": _device_name(dev), "backbone": backbone, "windows": windows,
        "tokens": S, "hidden": int(embeds.shape[1]), "dtype": str(embeds.dtype).replace("torch.", ""),
        "R": R, "repeats": repeats, "warmup": warmup,
        "tiles": [{"windows": len(t.sizes), "sizes": sorted(set(t.sizes)), "kept": sum(t.counts),
                   "max_count": max(t.counts)} for t in tiles],
        "kept_equal": equal, "kept": int(new_keep.sum()), "timed_by": key,
        "ratio": rows["new"][key]["median"] / rows["old"][key]["median"],
        "ops_ratio": rows["new"]["ops"] / rows["old"]["ops"],
        "old": rows["old"], "new": rows["new"],
    }


def markdown(report: dict[str, Any]) -> str:
    """The stage1 report as a short markdown table."""
    unit = "process CPU ms" if report["timed_by"] == "cpu_ms" else "wall ms"
    tiles = "; ".join(f"{t['windows']} windows of {'/'.join(map(str, t['sizes']))} tokens, {t['kept']} kept "
                      f"(at most {t['max_count']} per window)" for t in report["tiles"])
    lines = [f"Official Stage I max-min (SEATS R={report['R']:g}) on {report['device']}, {report['backbone']}: "
             f"{report['tokens']} tokens, hidden {report['hidden']} ({report['dtype']}); {tiles}. Median {unit} "
             f"(min-max) over {report['repeats']} alternated runs after {report['warmup']} warm-up; op counts: "
             f"aten operators dispatched in one call (non-view ones in brackets). Kept sets equal: "
             f"{'yes' if report['kept_equal'] else 'NO'} ({report['kept']} tokens).", "",
             "| Implementation | ms | wall ms | ops (non-view) |", "|---|---|---|---|"]
    for name, label in (("old", "the authors' order (select.diversity.authors_stage1)"),
                        ("new", "product path (select.diversity.official_stage1)")):
        r = report[name]
        t = r[report["timed_by"]]
        lines.append(f"| {label} | {t['median']:.1f} ({t['min']:.1f}-{t['max']:.1f}) | "
                     f"{r['wall_ms']['median']:.1f} | {r['ops']} ({r['non_view_ops']}) |")
    lines += ["", f"Ratio new / old: time {report['ratio']:.2f}x, ops {report['ops_ratio']:.2f}x."]
    return "\n".join(lines) + "\n"
