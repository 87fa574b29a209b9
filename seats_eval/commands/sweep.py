"""`seats-eval sweep --spec SPEC`: run a sweep's lmms-eval jobs, resumably.

Each job is one lmms-eval run in its own folder under the spec's `out`; finished jobs are
skipped, killed ones restart cleanly, failed ones are retried, and nothing finished is
overwritten without `--force`. Exit status: 0 when every selected job is done (or skipped
on purpose), 1 when any failed or is still running elsewhere, 2 on a bad spec.

    seats-eval sweep --spec table3_qwen25omni                  # run / resume
    seats-eval sweep --spec table3_qwen25omni --status         # where every job stands
    seats-eval sweep --spec table3_qwen25omni --dry-run        # the lmms-eval commands
    seats-eval sweep --spec table3_qwen25omni --launcher accelerate --num_processes 8
    seats-eval sweep --spec table3_qwen25omni --slurm          # write an sbatch array script
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import ConfigError

help = "run a sweep spec (methods x R x tasks) as resumable lmms-eval jobs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="YAML path or name under model_configs/sweeps/")
    p.add_argument("--tasks", default=None,
                   help="override the spec's tasks: 'fixtures' (offline twins), 'benchmarks', or a comma list")
    p.add_argument("--out", default=None, help="override the spec's results folder")
    p.add_argument("--artifacts", default=None, help="folder of the tiny model and clips (default artifacts/)")
    p.add_argument("--limit", type=float, default=None, help="lmms-eval --limit for every job")
    p.add_argument("--job-index", type=int, default=None, help="run only this job (0-based; Slurm arrays)")
    p.add_argument("--only", default=None, help="run only jobs whose name matches these globs (comma list)")
    p.add_argument("--force", action="store_true", help="rerun finished jobs and replace their results")
    p.add_argument("--launcher", choices=["local", "accelerate"], default=None,
                   help="local: one lmms-eval process per job; accelerate: `accelerate launch -m lmms_eval`")
    p.add_argument("--num_processes", "--num-processes", type=int, default=None,
                   help="processes (GPUs) per job with --launcher accelerate")
    p.add_argument("--status", action="store_true", help="print every job's state and exit")
    p.add_argument("--dry-run", action="store_true", help="print the jobs' commands and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-encoder-cache", action="store_true",
                   help="decode and encode every video in every job (default: the spec's `cache`, on)")
    g = p.add_argument_group("slurm (writes a script, runs nothing)")
    g.add_argument("--slurm", nargs="?", const="", default=None, metavar="PATH",
                   help="write an sbatch array script (default <out>/sweep.sbatch) instead of running")
    g.add_argument("--slurm-partition", default=None)
    g.add_argument("--slurm-time", default=None, help="e.g. 24:00:00")
    g.add_argument("--slurm-gpus", type=int, default=None,
                   help="GPUs per array task (--gres=gpu:N; 0: none; default: the spec's, else num_processes)")
    g.add_argument("--slurm-cpus", type=int, default=None,
                   help="CPUs per array task (default: the spec's cpus_per_task, else 8 per GPU)")
    g.add_argument("--slurm-mem", default=None, help="memory per array task, e.g. 64G (default: the spec's)")
    g.add_argument("--slurm-max-parallel", type=int, default=None, help="array throttle (%%N)")
    g.add_argument("--slurm-directive", action="append", default=[], help="extra '#SBATCH' line (repeatable)")
    # Tests inject a fake lmms-eval through the spec's `lmms_eval_cmd`; this flag does the same.
    p.add_argument("--lmms-eval-cmd", default=None, help=argparse.SUPPRESS)


def _passthrough(args: argparse.Namespace) -> list[str]:
    """The overrides an array task must repeat to resolve the same sweep."""
    out: list[str] = []
    for flag, value in (("--tasks", args.tasks), ("--out", args.out), ("--artifacts", args.artifacts),
                        ("--launcher", args.launcher), ("--num_processes", args.num_processes),
                        ("--lmms-eval-cmd", args.lmms_eval_cmd)):
        if value is not None:
            out += [flag, str(value)]
    if args.limit is not None:
        out += ["--limit", f"{args.limit:g}"]
    if args.force:
        out.append("--force")
    if args.no_encoder_cache:
        out.append("--no-encoder-cache")
    return out


def run(args: argparse.Namespace) -> int:
    from .. import sweep as sw

    try:
        sweep = sw.load_spec(args.spec, tasks=args.tasks, out=args.out, artifacts=args.artifacts,
                             limit=args.limit, launcher=args.launcher, num_processes=args.num_processes,
                             lmms_eval_cmd=shlex.split(args.lmms_eval_cmd) if args.lmms_eval_cmd else None)
        if args.no_encoder_cache:
            sweep.cache = False
        if args.slurm is not None:
            jobs = sw.select_jobs(sweep, None, args.only)  # --only: an array of those jobs' indices
            path = sw.write_slurm(
                sweep, Path(args.slurm) if args.slurm else None, extra_args=_passthrough(args),
                partition=args.slurm_partition, time_limit=args.slurm_time, gpus=args.slurm_gpus,
                cpus=args.slurm_cpus, mem=args.slurm_mem, max_parallel=args.slurm_max_parallel,
                directives=args.slurm_directive, jobs=jobs)
            print(f"wrote {path} ({len(jobs)} array task(s)); submit with: sbatch {shlex.quote(str(path))}")
            return 0
        if args.status:
            rows = sw.sweep_status(sweep)
            print(f"sweep {sweep.name}: {sweep.out}")
            for r in rows:
                err = f"  {r['error'][:150]}" if r["error"] else ""
                print(f"{r['index']:>4}  {r['state']:<11} {r['name']:<40} {r['model']}{err}")
            return 0
        if args.dry_run:
            for job in sw.select_jobs(sweep, args.job_index, args.only):
                out = sweep.job_dir(job) / "attempt" / "output"
                print(f"# [{job.index}] {job.name}")
                print(shlex.join(sw.lmms_eval_argv(sweep, job, out)))
            return 0
        report = sw.run_sweep(sweep, force=args.force, job_index=args.job_index, only=args.only,
                              progress=not args.no_progress)
    except ConfigError as exc:
        print(f"seats-eval sweep: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, sw.Interrupted):
        print("seats-eval sweep: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts().items()))
    print(f"sweep {sweep.name}: {counts or 'no jobs'}; results under {sweep.out}")
    for o in report.outcomes:
        if o.state not in ("done", "skipped"):
            print(f"  {o.state}: {o.job.name}: {o.message}", file=sys.stderr)
    return 0 if report.ok else 1
