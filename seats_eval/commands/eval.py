"""`seats-eval eval <lmms-eval arguments>`: lmms-eval's own CLI, with an exit status a script can trust.

lmms-eval 0.7.3 exits 0 on every failure: an exception inside the evaluation is printed and
logged ("Error during evaluation") and the process ends normally; an unwritable
--output_path is logged at INFO after the whole run. This runs lmms-eval's CLI in-process
(the same code as `lmms-eval ...`, nothing re-implemented) and exits non-zero when:
- the evaluation raised (the traceback is printed by lmms-eval, the cause restated here),
- no results JSON was written under --output_path during this run,
- any sample failed (its data was unusable; lmms-eval's results JSON counts them in each
  task's `sample_failures`), unless `--allow-failures` is given,
- a file lmms-eval wrote is unreadable or empty (a full disk: lmms-eval only warns).
--output_path is required and checked writable before anything loads; each run writes into
its own folder `<output_path>/<run id>/` (seats_eval/io/runs.py), so two runs started in the same
second never share a file name. Per-sample records go to `<run folder>/seats_records/`
unless `record_dir` or $SEATS_RECORD_DIR names another folder. seats-eval's own task folder
(`seats-eval tasks-path`: the checkout's tasks/ or the installed copy) is passed as
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
    from ..io.resources import tasks_dir

    if any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        return argv
    return [*argv, "--include_path", str(tasks_dir())]


def _results_since(output: Path, since: float) -> list[Path]:
    return sorted((p for p in output.rglob("*_results.json") if p.stat().st_mtime >= since),
                  key=lambda p: p.stat().st_mtime)


def _set_flag(argv: list[str], flag: str, value: str) -> list[str]:
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == flag:
            skip = i + 1 < len(argv)
        elif not arg.startswith(f"{flag}="):
            out.append(arg)
    return [*out, flag, value]


def _check_written(run_dir: Path, since: float, log_samples: bool) -> tuple[Path | None, dict, str | None]:
    """(the results JSON, its content, None) or (path, {}, what is wrong): lmms-eval only warns
    when a write fails (disk full), leaving an empty or cut file, or none."""
    found = _results_since(run_dir, since)
    if not found:
        return None, {}, f"no results JSON was written under {run_dir} (see the log above)"
    try:
        results = json.loads(found[-1].read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return found[-1], {}, (f"the results JSON {found[-1]} is unreadable ({found[-1].stat().st_size} bytes: "
                               f"{type(exc).__name__}: {exc}); a write failed (disk full?)")
    if log_samples:
        samples = [p for p in run_dir.rglob("*_samples_*.jsonl") if p.stat().st_mtime >= since]
        for p in samples:
            lines = p.read_text(errors="replace").splitlines()
            try:
                if not lines or not json.loads(lines[-1]):
                    raise ValueError("empty")
            except ValueError:
                return found[-1], results, (f"the logged samples {p} are empty or cut ({p.stat().st_size} "
                                            "bytes); a write failed (disk full?)")
        if not samples:
            return found[-1], results, f"--log_samples wrote no samples file under {run_dir}"
    return found[-1], results, None


def _data_problems(tasks: str) -> list[str]:
    """What `tasklib.sources.preflight` finds wrong with the data of the real benchmarks asked for."""
    from ..tasklib.sources import BENCHMARKS, preflight

    benches = {t.strip().removeprefix("seats_") for t in tasks.split(",")}
    return [p for b in sorted(benches & set(BENCHMARKS)) if (p := preflight(b))]


def main(argv: list[str]) -> int:
    from lmms_eval.utils import simple_parse_args_string

    from ..errors import ConfigError
    from ..io.runs import RECORDS_FOLDER, RUN_ID_ENV, run_id
    from ..methods.options import check_arg_string
    from ..models.omni import check_writable, cli_arg
    from ..sweep.store import task_failures, task_scores

    if argv in ([], ["-h"], ["--help"]):
        print(USAGE + "\n\n" + __doc__)
        return 0 if argv else 2
    allow = "--allow-failures" in argv
    argv = with_include_path([a for a in argv if a != "--allow-failures"])
    output_arg = cli_arg(argv, "--output_path")
    if not output_arg:
        print("seats-eval eval: --output_path is required (the run is checked for its results JSON there)",
              file=sys.stderr)
        return 2
    output = Path(output_arg)
    try:
        check_writable(output, "--output_path")
        model_args = cli_arg(argv, "--model_args") or ""
        check_arg_string(model_args)
    except ConfigError as exc:
        print(f"seats-eval eval: {exc}", file=sys.stderr)
        return 2
    problems = _data_problems(cli_arg(argv, "--tasks") or "")
    if problems:
        print("seats-eval eval: " + "\nseats-eval eval: ".join(problems), file=sys.stderr)
        return 2
    rid = run_id()
    saved_env = {k: os.environ.get(k) for k in (RUN_ID_ENV, "SEATS_RECORD_DIR")}  # restored after the run
    os.environ[RUN_ID_ENV] = rid
    run_dir = output / rid
    argv = _set_flag(argv, "--output_path", str(run_dir))
    record_dir = simple_parse_args_string(model_args).get("record_dir") or os.environ.get("SEATS_RECORD_DIR")
    if not record_dir:  # records on by default, beside the results
        record_dir = os.environ["SEATS_RECORD_DIR"] = str(run_dir / RECORDS_FOLDER)

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
        for key, value in saved_env.items():  # a second in-process run gets its own id and records
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if errors:
        exc = errors[0]
        print(f"seats-eval eval: the evaluation failed: {type(exc).__name__}: {exc} (traceback above)",
              file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # data parallel: rank 0 writes the results
        return 0
    predict_only = any(a in ("--predict_only", "-x") for a in argv)  # lmms-eval then logs samples itself
    results_json, results, problem = _check_written(run_dir, start, "--log_samples" in argv or predict_only)
    if problem:
        print(f"seats-eval eval: {problem}", file=sys.stderr)
        return 1
    if predict_only:  # lmms-eval's bypass metric scores 999: no score
        print(f"seats-eval eval: predictions only (--predict_only: nothing scored); results in {results_json}")
        return 0
    scores, failures = task_scores(results), task_failures(results)
    for task in sorted(scores):
        print(f"seats-eval eval: {task}: {scores[task]:.2f} ({failures.get(task, 0)} failed sample(s))")
    failed = sum(failures.values())
    listed = Path(record_dir) / "failures.jsonl"
    where = f"{listed} lists them" if listed.is_file() else "the log above names them"
    if failed and not allow:
        print(f"seats-eval eval: {failed} sample(s) failed (their media or layout was unusable; {where}); "
              "pass --allow-failures to accept that", file=sys.stderr)
        return 1
    print(f"seats-eval eval: results in {results_json}; records in {record_dir}")
    return 0
