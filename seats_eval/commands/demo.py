"""`seats-eval demo`: the whole pipeline offline on the embedded tiny default.

Creates the tiny model and the clips (once), then runs lmms-eval on the fixture task with
full tokens and with SEATS, and prints where the results are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

help = "offline demo: tiny model + generated clips + lmms-eval on the fixture task"

REPO = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--artifacts", default=str(REPO / "artifacts"), help="where the tiny model and clips go")
    p.add_argument("--out", default=str(REPO / "results" / "runs" / "demo"))
    p.add_argument("--task", default="seats_fixture_mcq")
    p.add_argument("--models", default="qwen25omni,seats_qwen25omni:R=0.25",
                   help="comma list of id[:model_args] to run")


def ensure_artifacts(artifacts: Path) -> tuple[Path, Path]:
    from ..media.synth import make_clips
    from ..tiny import make_tiny

    tiny, clips = artifacts / "tiny-qwen25omni", artifacts / "clips"
    if not (tiny / "config.json").exists():
        make_tiny(tiny)
    if not (clips / "corrupt.mp4").exists():
        make_clips(clips)
    return tiny, clips


def run(args: argparse.Namespace) -> int:
    tiny, clips = ensure_artifacts(Path(args.artifacts))
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    status = 0
    for spec in args.models.split(","):
        model_id, _, extra = spec.partition(":")
        out = Path(args.out) / model_id
        model_args = f"pretrained={tiny}" + (f",{extra}" if extra else "")
        env["SEATS_RECORD_DIR"] = str(out / "records")
        cmd = [str(Path(sys.executable).parent / "lmms-eval"), "--model", model_id, "--model_args", model_args,
               "--tasks", args.task, "--include_path", str(REPO / "tasks"), "--batch_size", "1",
               "--output_path", str(out), "--log_samples"]
        print("+", " ".join(cmd), flush=True)
        rc = subprocess.call(cmd, env=env)
        print(f"{model_id}: exit {rc}; results under {out}", flush=True)
        status = status or rc
    return status
