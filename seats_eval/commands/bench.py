"""`seats-eval bench {select,stage1,prefill,media,sharing}`: the efficiency figures of Table 4,
the official Stage I (product path) against the authors' order of operations, media
decoding, and what prefix sharing saves per question (bench/sharing.py), measured."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..methods.options import flag

help = ("measure selection overhead (select), the official Stage I new vs old (stage1), prefill / TTFT / "
        "memory (prefill), media decoding (media) or the prefill per question with prefix sharing (sharing)")

DEFAULT_PREFILL = "full,seats@0.35,seats@0.25,seats@0.1,fastv_om@0.35,divprune_om@0.35,visionzip_om@0.35,omnizip@0.35"




def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["select", "stage1", "prefill", "media", "sharing"])
    p.add_argument("--methods", default=None,
                   help="comma list of id[@R]; 'all' = every registered method at R=0.35 (select); "
                        "prefill always times full tokens too (added when missing: the ratios' reference)")
    p.add_argument("--windows", type=int, default=32)
    p.add_argument("--hidden", type=flag("hidden"), default=None,
                   help="select, stage1: embedding width (default: the backbone's llm.hidden_size)")
    p.add_argument("--R", type=float, default=0.35, help="stage1: SEATS' R (its Stage I counts)")
    p.add_argument("--stage1", action="store_true",
                   help="select: also time the official Stage I new vs old (as `bench stage1`) into the same report")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for the run (default: torch's); stage1's figure uses 1")
    p.add_argument("--preset", choices=["full", "cpu-proxy"], default=None,
                   help="prefill: the real thinker (LLM geometry incl. MoE, real-size encoders; GPU) or a "
                        "narrow CPU stand-in with the real depth and MoE structure (default by device)")
    p.add_argument("--device", default=None)
    p.add_argument("--attn", default="sdpa")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--backbone", default="qwen2.5-omni-7b")
    p.add_argument("--profile", action="store_true",
                   help="prefill: also record where one run's time goes (torch.profiler, full and lowest-R SEATS)")
    p.add_argument("--out", default="results/efficiency", help="directory for the JSON and markdown")
    p.add_argument("--tag", default=None,
                   help="file name stem (default: bench_<what>[_<backbone>]_<cuda|cpu>; no backbone part "
                        "for qwen2.5-omni-7b)")
    p.add_argument("--artifacts", default="artifacts", help="media: where the generated long clips are cached")
    p.add_argument("--clips", default="20min_360p,60min_720p", help="media: comma list of clip names")
    p.add_argument("--max-frames", default="128,768", help="media: comma list of max_frames")
    p.add_argument("--old-cap-gb", type=float, default=21.0,
                   help="media: address-space cap (GB) of the old full-decode baseline's process")


def default_stem(what: str, backbone: str, device: str) -> str:
    """bench_prefill_cpu, bench_select_cuda, bench_prefill_qwen3omni_cuda, ..."""
    from ..backbones.config import load_backbone_config

    name = load_backbone_config(backbone).name
    short = {"qwen2.5-omni-7b": "", "qwen3-omni-30b-a3b": "_qwen3omni"}.get(name, "_" + name.replace("-", "").replace(".", ""))
    return f"bench_{what}{short}_{'cuda' if device.startswith('cuda') else 'cpu'}"


def _available(spec: str) -> str:
    from ..methods import METHOD_IDS

    return ",".join(m for m in spec.split(",") if m.partition("@")[0] in METHOD_IDS)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..bench.profiling import bench_prefill, bench_select, failed, parse_methods
    from ..bench.report import markdown
    from ..methods import METHOD_IDS

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "media":
        from ..bench.media import MediaBenchConfig, bench_media
        from ..bench.media import markdown as media_markdown

        report = bench_media(MediaBenchConfig(Path(args.artifacts), tuple(args.clips.split(",")),
                                              tuple(int(x) for x in args.max_frames.split(",")), args.old_cap_gb))
        return _write(args, report, media_markdown(report), args.tag or "bench_media_cpu")
    if args.what == "stage1":
        from ..bench.stage1 import bench_stage1
        from ..bench.stage1 import markdown as stage1_markdown

        report = bench_stage1(windows=args.windows, hidden=args.hidden, R=args.R, repeats=args.repeats or 10,
                              warmup=args.warmup if args.warmup is not None else 2, device=device,
                              backbone=args.backbone)
        return _write(args, report, stage1_markdown(report), args.tag or default_stem("stage1", args.backbone, device))
    if args.what == "sharing":
        from ..bench.sharing import bench_sharing
        from ..bench.sharing import markdown as sharing_markdown

        report = bench_sharing(parse_methods(args.methods or "full,divprune_om@0.35,seats@0.35"),
                               preset=args.preset or ("full" if device.startswith("cuda") else "cpu-proxy"),
                               windows=args.windows, repeats=args.repeats or 3,
                               warmup=args.warmup if args.warmup is not None else 1, device=device,
                               backbone=args.backbone, attn=args.attn)
        return _write(args, report, sharing_markdown(report), args.tag or default_stem("sharing", args.backbone, device))
    if args.what == "select":
        spec = args.methods or "seats@0.35,seats@0.25,seats@0.1"
        if spec == "all":
            # every selection method at R=0.35 (full selects nothing; remove_at is the probe)
            spec = ",".join(f"{m}@0.35" for m in METHOD_IDS if m not in ("full", "remove_at", "dycoke"))
            spec += ",dycoke@0.35"
        report = bench_select(parse_methods(spec), windows=args.windows, hidden=args.hidden,
                              repeats=args.repeats or 20, warmup=args.warmup if args.warmup is not None else 3,
                              device=device, backbone=args.backbone)
        if args.stage1:  # one report: the GPU script brings back at most 8 files
            from ..bench.stage1 import bench_stage1

            try:  # unequal kept sets raise: an error row, and the selection figures still written
                report["stage1"] = bench_stage1(windows=args.windows, hidden=args.hidden, R=args.R,
                                                repeats=args.repeats or 10,
                                                warmup=args.warmup if args.warmup is not None else 2,
                                                device=device, backbone=args.backbone)
            except RuntimeError as exc:
                report["results"].append({"method": "stage1 (new vs old)", "R": args.R, "error": str(exc)})
    else:
        preset = args.preset or ("full" if device.startswith("cuda") else "cpu-proxy")
        spec = args.methods or _available(DEFAULT_PREFILL)
        report = bench_prefill(parse_methods(spec), preset=preset, windows=args.windows,
                               repeats=args.repeats or (10 if device.startswith("cuda") else 3),
                               warmup=args.warmup if args.warmup is not None else (3 if device.startswith("cuda") else 1),
                               device=device, backbone=args.backbone, attn=args.attn, profile=args.profile)
        if report["full_added"]:
            print("full tokens were not in --methods: added, timed in the same run as the reference of the ratios")
    _write(args, report, markdown(report), args.tag or default_stem(args.what, args.backbone, device))
    if failed(report):
        print(f"failed: {', '.join(failed(report))} (errors in the report; tracebacks above)", file=sys.stderr)
        return 1
    return 0


def _write(args: argparse.Namespace, report: dict, text: str, stem: str) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"written: {out / (stem + '.json')}, {out / (stem + '.md')}")
    return 0
