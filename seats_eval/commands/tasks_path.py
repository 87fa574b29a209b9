"""`seats-eval tasks-path`: print the folder of seats-eval's lmms-eval tasks, for a plain
`lmms-eval --include_path "$(seats-eval tasks-path)" ...` (`seats-eval eval` adds it itself).
The folder is the checkout's tasks/ or the installed copy (seats_eval/io/resources.py)."""

from __future__ import annotations

import argparse

help = "print the folder of the packaged lmms-eval tasks (for lmms-eval --include_path)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No options: the folder follows seats_eval/io/resources.py's rule ($SEATS_EVAL_HOME, the checkout, the package)."""


def run(args: argparse.Namespace) -> int:
    from ..io.resources import tasks_dir

    print(tasks_dir())
    return 0
