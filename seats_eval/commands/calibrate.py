"""`seats-eval calibrate`: SEATS block boundaries from a layer-removal probe.

Reads OUT/probe.json of `seats-eval probe`, applies the rule of `seats_eval.backbones.calibrate`
(collapse -> shallow, recovery -> middle in three sub-blocks, no measurable drop -> late)
to one modality's curve (default `both`) and writes a model_configs YAML: the base
config's keys with the new boundaries. The YAML loads with
`budgets.load_backbone_config(path)` and is used through `backbone_config=<path>`.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..backbones.calibrate import DEFAULTS, SPLITS, calibrate_curve, load_probe, probe_curve, write_config
from ..errors import ConfigError

help = "derive SEATS boundaries (L_s, L_m1, L_m2, L_l) from a probe and write a model_configs YAML"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--probe", required=True, help="probe.json written by `seats-eval probe`")
    p.add_argument("--out", required=True, help="YAML to write, e.g. model_configs/<name>.yaml")
    p.add_argument("--base-config", default=None,
                   help="config whose keys are copied (default: the probe's backbone)")
    p.add_argument("--modality", default="both", choices=["both", "video", "audio"], help="curve to use")
    p.add_argument("--collapse", type=float, default=DEFAULTS["collapse"],
                   help="shallow block: progress from floor to full below this")
    p.add_argument("--tolerance", type=float, default=DEFAULTS["tolerance"],
                   help="late block: relative accuracy >= 1 - tolerance from L_l on")
    p.add_argument("--min-drop", type=float, default=DEFAULTS["min_drop"],
                   help="least relative drop at layer 1 that counts as a collapse")
    p.add_argument("--split", default=DEFAULTS["split"], choices=list(SPLITS), help="middle sub-block split")
    p.add_argument("--name", default=None, help="`backbone` key of the new YAML (default: the base's)")
    p.add_argument("--lam", type=float, default=None, help="override the base config's lam")
    p.add_argument("--full-score", type=float, default=None, help="override the full-token score")


def run(args: argparse.Namespace) -> int:
    try:
        probe = load_probe(args.probe)
        xs, scores, full = probe_curve(probe, args.modality)
        cal = calibrate_curve(xs, scores, int(probe["num_layers"]),
                              args.full_score if args.full_score is not None else full,
                              collapse=args.collapse, tolerance=args.tolerance, min_drop=args.min_drop,
                              split=args.split)
        base = args.base_config or probe["backbone"]
        path = write_config(cal, base, args.out, source=str(args.probe), name=args.name, lam=args.lam)
    except ConfigError as exc:
        print(f"seats-eval calibrate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"boundaries": list(cal.boundaries), "acc_full": cal.acc_full, "floor": cal.floor,
                      "notes": cal.notes, "config": str(path)}, indent=1))
    return 0
