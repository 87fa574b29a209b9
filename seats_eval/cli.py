"""`seats-eval` console script: one subcommand per module in `seats_eval.commands`.

Each command module exposes `help: str`, `add_arguments(parser)` and `run(args) -> int`,
and imports its heavy dependencies (torch, transformers, lmms-eval) inside `run`, so
`seats-eval --help` stays fast and a broken optional dependency only affects its command.
A ConfigError (a bad value, named) exits 2 and an OSError about a file (not found,
read-only, disk full) exits 1, each with one line naming it; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import ConfigError

# subcommand name -> module under seats_eval.commands
COMMANDS: dict[str, str] = {
    "make-tiny": "make_tiny",
    "train-tiny": "train_tiny",
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
    "regression": "regression",
    "models": "models",
    "eval": "eval",
    "tasks-path": "tasks_path",
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
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["eval"]:  # lmms-eval's arguments go through unparsed
            from .commands.eval import main as eval_main

            return eval_main(argv[1:])
        args = build_parser().parse_args(argv)
        try:
            rc = int(args._run(args) or 0)
        except ConfigError as exc:  # a bad value, named: no traceback
            print(f"seats-eval {args.command}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            if exc.filename is None:  # not about a file the user named: loud
                raise
            print(f"seats-eval {args.command}: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return rc
    except BrokenPipeError:  # `seats-eval schedule ... | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as a process killed by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
