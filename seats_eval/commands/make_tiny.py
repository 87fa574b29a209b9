"""`seats-eval make-tiny`: write a tiny random Qwen-Omni thinker + offline processor."""

from __future__ import annotations

import argparse

from ..backbones.families import FAMILIES
from ..methods.options import flag

help = "write a tiny randomly initialised Qwen-Omni thinker and an offline processor"




def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", default="qwen2.5-omni", choices=list(FAMILIES))
    p.add_argument("--out", required=True, help="output directory (from_pretrained-loadable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", type=flag("layers"), default=8, help="decoder layers (model_configs/tiny.yaml assumes 8)")


def run(args: argparse.Namespace) -> int:
    from ..toys.tiny import make_tiny

    out = make_tiny(args.out, backbone=args.backbone, seed=args.seed, num_layers=args.layers)
    print(f"tiny {args.backbone} thinker written to {out}")
    return 0
