"""`seats-eval flops`: analytic prefill TFLOPs for a backbone, a token count and a method."""

from __future__ import annotations

import argparse
import json
import sys

from ..methods.options import flag, key_value

help = "analytic prefill FLOPs (paper and true conventions) for full tokens or any method at R"




def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", default="qwen2.5-omni-7b")
    p.add_argument("--tokens", type=flag("tokens"), required=True, help="LLM input length with full tokens")
    p.add_argument("--windows", type=int, default=None,
                   help="2-s windows among the tokens (default: as many full windows as fit beside at least "
                        "one text token: the prompt)")
    p.add_argument("--method", default="full")
    p.add_argument("--R", type=float, default=None)
    p.add_argument("--option", action="append", default=[], type=key_value, metavar="KEY=VALUE",
                   help="extra method option")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..backbones.config import load_backbone_config
    from ..bench.flops import (
        attention_width_from_cfg,
        geometry_from_cfg,
        planned_lengths,
        prefill_flops_from_lengths,
        simulated_lengths,
    )
    from ..errors import ConfigError
    from ..methods import build_method

    try:
        cfg = load_backbone_config(args.backbone)
        n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
        windows = args.windows if args.windows is not None else max(0, args.tokens - 1) // (n_v + n_a)
        n_text = args.tokens - windows * (n_v + n_a)
        if n_text < 1:
            raise ConfigError(f"{args.tokens} tokens cannot hold {windows} windows plus a prompt")
        options = dict(args.option)
        if len(options) < len(args.option):
            raise ConfigError(f"--option: a key is given twice ({', '.join(k for k, _ in args.option)})")
        if args.R is not None:
            options["R"] = args.R
        method = build_method(args.method, cfg, options)
        if method.plan((n_text, windows * n_v, windows * n_a)).layers is not None:
            lengths, source = planned_lengths(method, n_text, windows * n_v, windows * n_a), "plan"
        else:  # counts that depend on the content: the method's selection on a synthetic sample
            lengths, source = simulated_lengths(method, cfg, n_text, windows), "simulated"
        geo, attn = geometry_from_cfg(cfg), attention_width_from_cfg(cfg)
    except (ConfigError, ValueError) as exc:
        print(f"seats-eval flops: {exc}", file=sys.stderr)
        return 2
    flops = prefill_flops_from_lengths(lengths, *geo)
    full = prefill_flops_from_lengths([args.tokens] * len(lengths), *geo)
    true = prefill_flops_from_lengths(lengths, *geo, attn=attn, convention="true")
    full_true = prefill_flops_from_lengths([args.tokens] * len(lengths), *geo, attn=attn, convention="true")
    out = {"backbone": args.backbone, "method": args.method, "R": args.R, "tokens": args.tokens,
           "windows": windows, "text_tokens": n_text, "lengths_from": source, "tflops": flops / 1e12,
           "full_tflops": full / 1e12, "reduction": full / flops, "tflops_true": true / 1e12,
           "full_tflops_true": full_true / 1e12, "reduction_true": full_true / true, "layer_lengths": lengths}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        note = "" if source == "plan" else " (lengths from its selection run on a synthetic sample)"
        print(f"{args.method} on {args.backbone}: {out['tflops']:.2f} TFLOPs "
              f"(full {out['full_tflops']:.2f}, {out['reduction']:.2f}x less) for {args.tokens} tokens; "
              f"true convention (the work run) {out['tflops_true']:.2f} (full {out['full_tflops_true']:.2f}, "
              f"{out['reduction_true']:.2f}x less){note}")
    return 0
