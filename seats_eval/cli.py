"""`seats-eval` console script: one subcommand per module in `seats_eval.commands`.

Each command module exposes `help: str`, `add_arguments(parser)` and `run(args) -> int`,
and imports its heavy dependencies (torch, transformers, lmms-eval) inside `run`, so
`seats-eval --help` stays fast and a broken optional dependency only affects its command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand name -> module under seats_eval.commands
COMMANDS: dict[str, str] = {
    "make-tiny": "make_tiny",
    "make-clips": "make_clips",
    "demo": "demo",
    "schedule": "schedule",
    "sweep": "sweep",
    "tables": "tables",
    "flops": "flops",
    "bench": "bench",
    "probe": "probe",
    "calibrate": "calibrate",
    "cache": "cache",
    "breakdown": "breakdown",
    "compare-sweeps": "compare_sweeps",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seats-eval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"seats_eval.commands.{module_name}")
        p = sub.add_parser(name, help=module.help, description=module.help)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
