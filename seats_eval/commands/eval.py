"""`seats-eval eval <lmms-eval arguments>`: lmms-eval's own CLI, with an exit status a script can trust.

lmms-eval 0.7.3 exits 0 on every failure: an exception inside the evaluation is printed and
logged ("Error during evaluation") and the process ends normally; an unwritable
--output_path is logged at INFO after the whole run. This runs lmms-eval's CLI in-process
(the same code as `lmms-eval ...`, nothing re-implemented) and exits non-zero when:
- the evaluation raised (the traceback is printed by lmms-eval, the cause restated here),
- no results JSON was written under --output_path during this run,
- any sample failed (its data was unusable; lmms-eval's results JSON counts them in each
  task's `sample_failures`), unless `--allow-failures` is given.
--output_path is required and checked writable before anything loads. seats-eval's own task
folder (`seats-eval tasks-path`: the checkout's tasks/ or the installed copy) is passed as
--include_path unless the command line gives one (lmms-eval takes one folder there).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

help = "run lmms-eval (same arguments) and exit non-zero on errors, missing results or failed samples"
USAGE = ("usage: seats-eval eval [--allow-failures] --model ID --model_args ... --tasks ... "
         "--output_path DIR [other lmms-eval arguments]")


def add_arguments(p) -> None:
    """None of ours to declare: the arguments are lmms-eval's, and cli.main hands them over unparsed."""


def run(args) -> int:  # reached only through argparse, i.e. without arguments
    print(USAGE)
    return 2


def with_include_path(argv: list[str]) -> list[str]:
    """`argv` plus `--include_path <seats-eval's tasks>` unless it already names one
    (`--include_path DIR` or `--include_path=DIR`)."""
    from ..resources import tasks_dir

    if any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        return argv
    return [*argv, "--include_path", str(tasks_dir())]


def _results_since(output: Path, since: float) -> list[Path]:
    return sorted((p for p in output.rglob("*_results.json") if p.stat().st_mtime >= since),
                  key=lambda p: p.stat().st_mtime)


def main(argv: list[str]) -> int:
    from ..models.omni import check_writable, cli_output_path
    from ..sweep.store import task_failures, task_scores

    if argv in ([], ["-h"], ["--help"]):
        print(USAGE + "\n\n" + __doc__)
        return 0 if argv else 2
    allow = "--allow-failures" in argv
    argv = with_include_path([a for a in argv if a != "--allow-failures"])
    output = cli_output_path(argv)
    if output is None:
        print("seats-eval eval: --output_path is required (the run is checked for its results JSON there)",
              file=sys.stderr)
        return 2
    try:
        check_writable(output, "--output_path")
    except Exception as exc:
        print(f"seats-eval eval: {exc}", file=sys.stderr)
        return 2

    from ..models.parallel import prepare_env

    prepare_env()  # data parallel on CPUs: a gloo group (models/parallel.py)
    import lmms_eval.__main__ as lmms_main

    errors: list[BaseException] = []
    single = lmms_main.cli_evaluate_single

    def watched(args):
        try:
            return single(args)
        except BaseException as exc:  # lmms-eval prints the traceback and goes on; we remember it
            errors.append(exc)
            raise

    start = time.time() - 1.0
    saved_argv = sys.argv
    lmms_main.cli_evaluate_single = watched
    sys.argv = ["lmms-eval", *argv]
    try:
        lmms_main.cli_evaluate()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return int(exc.code) if isinstance(exc.code, int) else 1
    finally:
        lmms_main.cli_evaluate_single = single
        sys.argv = saved_argv
    if errors:
        exc = errors[0]
        print(f"seats-eval eval: the evaluation failed: {type(exc).__name__}: {exc} (traceback above)",
              file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # data parallel: rank 0 writes the results
        return 0
    found = _results_since(output, start)
    if not found:
        print(f"seats-eval eval: no results JSON was written under {output} (see the log above)", file=sys.stderr)
        return 1
    results = json.loads(found[-1].read_text())
    scores, failures = task_scores(results), task_failures(results)
    for task in sorted(scores):
        print(f"seats-eval eval: {task}: {scores[task]:.2f} ({failures.get(task, 0)} failed sample(s))")
    failed = sum(failures.values())
    if failed and not allow:
        print(f"seats-eval eval: {failed} sample(s) failed (their media or layout was unusable; the record "
              "directory's failures.jsonl lists them); pass --allow-failures to accept that", file=sys.stderr)
        return 1
    print(f"seats-eval eval: results in {found[-1]}")
    return 0
