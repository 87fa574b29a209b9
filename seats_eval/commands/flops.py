"""`seats-eval flops`: analytic prefill TFLOPs for a backbone, a token count and a method."""

from __future__ import annotations

import argparse
import json
import sys

help = "analytic prefill FLOPs (paper convention) for full tokens or a method at R"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", default="qwen2.5-omni-7b")
    p.add_argument("--tokens", type=int, required=True, help="LLM input length with full tokens")
    p.add_argument("--windows", type=int, default=None,
                   help="2-s windows among the tokens (default: as many full windows as fit beside at least "
                        "one text token: the prompt)")
    p.add_argument("--method", default="full")
    p.add_argument("--R", type=float, default=None)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="extra method option")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..config import load_backbone_config
    from ..errors import ConfigError
    from ..flops import geometry_from_cfg, planned_lengths, prefill_flops_from_lengths
    from ..methods import build_method

    try:
        cfg = load_backbone_config(args.backbone)
        n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
        windows = args.windows if args.windows is not None else max(0, args.tokens - 1) // (n_v + n_a)
        n_text = args.tokens - windows * (n_v + n_a)
        if n_text < 1:
            raise ConfigError(f"{args.tokens} tokens cannot hold {windows} windows plus a prompt")
        options = dict(kv.split("=", 1) for kv in args.option)
        if args.R is not None:
            options["R"] = args.R
        method = build_method(args.method, cfg, options)
        lengths = planned_lengths(method, n_text, windows * n_v, windows * n_a)
    except (ConfigError, ValueError) as exc:
        print(f"seats-eval flops: {exc}", file=sys.stderr)
        return 2
    flops = prefill_flops_from_lengths(lengths, *geometry_from_cfg(cfg))
    full = prefill_flops_from_lengths([args.tokens] * len(lengths), *geometry_from_cfg(cfg))
    out = {"backbone": args.backbone, "method": args.method, "R": args.R, "tokens": args.tokens,
           "windows": windows, "text_tokens": n_text, "tflops": flops / 1e12,
           "full_tflops": full / 1e12, "reduction": full / flops, "layer_lengths": lengths}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{args.method} on {args.backbone}: {out['tflops']:.2f} TFLOPs "
              f"(full {out['full_tflops']:.2f}, {out['reduction']:.2f}x less) for {args.tokens} tokens")
    return 0
