"""`seats-eval make-clips`: write the synthetic audio-visual test clips."""

from __future__ import annotations

import argparse

help = "write short synthetic mp4 clips (tones, no-audio, silent, short, corrupt)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    from ..toys.synth import make_clips

    for path in make_clips(args.out):
        print(path)
    return 0
