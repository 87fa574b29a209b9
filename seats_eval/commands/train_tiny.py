"""`seats-eval train-tiny`: train the tiny thinker on the "where" questions and write it
(fp16 safetensors + processor + MODEL_CARD.md + loss.png) where BACKBONE=tiny finds it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..backbones.families import FAMILIES
from ..errors import ConfigError
from ..io.resources import project_dir, resource, work_dir

help = "train the tiny Qwen-Omni thinker on generated 'where' questions (CPU, minutes) and write its model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..toys.train import TrainSettings

    d = TrainSettings()
    p.add_argument("--backbone", default="qwen2.5-omni", choices=list(FAMILIES))
    p.add_argument("--out", default=None, help="default: seats_eval/data/tiny_trained/<backbone> of the checkout "
                   "(committed; required outside a checkout: the installed package is not rewritten)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--steps", type=int, default=None, help="default: the family's train_steps (" + ", ".join(f"{f.train_steps} for {f.name}" for f in FAMILIES.values()) + ")")
    p.add_argument("--batch", type=int, default=d.batch, help="examples per optimizer step")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (a run reproduces under the same count)")
    p.add_argument("--held-out", type=int, default=200, help="fixture questions for the card's accuracy")
    p.add_argument("--artifacts", default=str(work_dir() / "artifacts"), help="held-out clips go to ARTIFACTS/clips/where-v<N>")


def run(args: argparse.Namespace) -> int:
    from ..toys.train import TrainSettings, held_out_accuracy, train, write_model_card

    if not args.out and project_dir() is None:
        raise ConfigError("train-tiny: --out is required outside a checkout (the default rewrites the committed "
                          "models, seats_eval/data/tiny_trained/, of a project folder; see seats_eval/io/resources.py)")
    out = Path(args.out) if args.out else resource("tiny_trained", check=False) / args.backbone
    settings = TrainSettings(backbone=args.backbone, seed=args.seed, steps=args.steps, batch=args.batch, lr=args.lr,
                             threads=args.threads)  # steps None: train() takes the backbone's default
    metrics = train(settings, out, log=lambda s: print(s, flush=True))
    from ..toys.synth import WHERE_CLIP_DIR

    held = held_out_accuracy(out, args.backbone, args.held_out, Path(args.artifacts) / "clips" / WHERE_CLIP_DIR,
                             log=lambda s: print(s, flush=True))
    metrics["held_out"] = held
    (out / "training.json").write_text(json.dumps(metrics, indent=1) + "\n")
    card = write_model_card(out, metrics, settings)
    print(f"trained tiny {args.backbone}: {out} ({metrics['train_seconds']:.0f}s training; held-out "
          f"{held['accuracy']:.1f}% on {held['n']}); card {card}")
    return 0
