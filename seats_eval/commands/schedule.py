"""`seats-eval schedule`: print (or plot) the SEATS per-layer TRR schedule and token counts.

Shows what Table 2 / Fig. 4 / Appendix A give for a backbone and budget: the constant C,
delta per modality, the per-layer video/audio TRR and, for a clip of `--windows` 2-s
windows, the number of video and audio tokens each decoder layer processes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from seats_eval.backbones.budgets import DECAYS, MODES, Schedule, build_schedule, layer_counts, resolve_budget
from seats_eval.backbones.config import load_backbone_config
from seats_eval.errors import ConfigError

help = "print the SEATS per-layer TRR schedule (Table 2, Fig. 4) and token counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--backbone", default="qwen2.5-omni-7b", help="name or YAML path")
    parser.add_argument("--R", type=float, required=True, help="overall TRR in (0, 1]")
    parser.add_argument("--lam", type=float, default=None, help="Stage I scale (YAML default)")
    parser.add_argument("--mode", default="both", choices=list(MODES))
    parser.add_argument("--windows", type=int, default=32, help="2-s windows in the clip")
    parser.add_argument("--R_v", type=float, default=None, help="override the video TRR")
    parser.add_argument("--R_a", type=float, default=None, help="override the audio TRR")
    parser.add_argument("--decay", default="exp", choices=list(DECAYS))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="write Fig. 4 here")


def schedule_report(schedule: Schedule, n_video: int, n_audio: int) -> dict[str, Any]:
    """Everything the command prints, as plain data."""
    counts = layer_counts(schedule, n_video, n_audio)
    b = schedule.budget
    return {
        "backbone": schedule.backbone,
        "R": b.R,
        "R_v": b.R_v,
        "R_a": b.R_a,
        "mode": b.mode,
        "lam": schedule.lam,
        "decay": schedule.decay,
        "num_layers": schedule.num_layers,
        "boundaries": list(schedule.boundaries),
        "C": schedule.C,
        "delta": {"video": schedule.video.delta, "audio": schedule.audio.delta},
        "levels": {"video": list(schedule.video.levels), "audio": list(schedule.audio.levels)},
        "drop_after": list(schedule.drop_after),
        "late_after": schedule.late_after,
        "n_video": n_video,
        "n_audio": n_audio,
        "layers": [
            {
                "layer": i + 1,
                "trr_video": schedule.video.trr[i],
                "trr_audio": schedule.audio.trr[i],
                "tokens_video": counts["video"][i],
                "tokens_audio": counts["audio"][i],
            }
            for i in range(schedule.num_layers)
        ],
        "mean_trr": {"video": schedule.video.mean_trr, "audio": schedule.audio.mean_trr},
    }


def format_report(rep: dict[str, Any]) -> str:
    """Human-readable table of `schedule_report`."""
    lines = [
        f"backbone {rep['backbone']}  R={rep['R']:g}  mode={rep['mode']}  "
        f"R_v={rep['R_v']:.4f}  R_a={rep['R_a']:.4f}  lam={rep['lam']:g}  decay={rep['decay']}",
        f"L={rep['num_layers']}  (L_s, L_m1, L_m2, L_l)={tuple(rep['boundaries'])}  "
        f"C={rep['C']:.3f}",
        f"delta: video {rep['delta']['video']:.5f}  audio {rep['delta']['audio']:.5f}",
        f"drop after 0-based layers {tuple(rep['drop_after'])}, late removal after "
        f"{rep['late_after']}",
        f"clip: {rep['n_video']} video + {rep['n_audio']} audio tokens (text not counted)",
        "",
        f"{'layer':>5} {'TRR video':>10} {'TRR audio':>10} {'video':>8} {'audio':>8}",
    ]
    for row in rep["layers"]:
        lines.append(
            f"{row['layer']:>5} {row['trr_video']:>10.4f} {row['trr_audio']:>10.4f} "
            f"{row['tokens_video']:>8} {row['tokens_audio']:>8}"
        )
    lines.append(f"{'mean':>5} {rep['mean_trr']['video']:>10.4f} {rep['mean_trr']['audio']:>10.4f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Build the schedule from the options and print it; 2 on a configuration error."""
    try:
        cfg = load_backbone_config(args.backbone)
        if args.windows < 0:
            raise ConfigError(f"--windows must be >= 0, got {args.windows}")
        n_v, n_a = cfg.video_tokens_per_window, cfg.audio_tokens_per_window
        budget = resolve_budget(args.R, args.mode, n_v, n_a, args.R_v, args.R_a, backbone=cfg)
        schedule = build_schedule(budget, cfg, lam=args.lam, decay=args.decay)
    except ConfigError as exc:
        print(f"seats-eval schedule: {exc}", file=sys.stderr)
        return 2
    rep = schedule_report(schedule, args.windows * n_v, args.windows * n_a)
    print(json.dumps(rep, indent=2) if args.json else format_report(rep))
    if args.plot:
        from seats_eval.tables.figures import plot_schedule

        plot_schedule(schedule, args.plot)
        if not args.json:
            print(f"wrote {args.plot}")
    return 0
