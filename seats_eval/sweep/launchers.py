"""How a job is launched: the lmms-eval command line of the local and accelerate launchers,
and the Slurm sbatch array script (one array task per job, each a `seats-eval sweep
--job-index`). Scale-out uses existing engines only; nothing here runs anything."""

from __future__ import annotations

import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.resources import tasks_dir
from .jobs import Job, _fmt_value, _slug
from .spec import REPO, Sweep
from .store import write_text_atomic

# lmms-eval's CLI through `seats-eval eval`: the same run, with an exit status that says
# whether the evaluation raised or wrote no results. Sample failures are the job summary's
# business (the tables note them), so they do not fail the job.
EVAL = ["-m", "seats_eval.cli", "eval", "--allow-failures"]


def free_port() -> int:
    """A TCP port free on this host now (for a data-parallel job's rendezvous): concurrent
    jobs on one node, Slurm array tasks included, must not all take accelerate's 29500."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lmms_eval_argv(sweep: Sweep, job: Job, output: Path, port: int | None = None) -> list[str]:
    """The command line of one job (what `--dry-run` prints): lmms-eval's arguments, run by
    `seats-eval eval`. With the accelerate launcher and several processes: `--multi_gpu`
    (without it accelerate starts one process when it sees no GPUs; on the CPU the processes
    form a gloo group, see models/parallel.py) and the rendezvous port: the spec's
    `main_process_port`, else `port` (the runner passes a free one)."""
    margs = ",".join(f"{k}={_fmt_value(v)}" for k, v in job.model_args.items())
    args = ["--model", job.model, "--model_args", margs, "--tasks", ",".join(job.tasks),
            "--include_path", str(tasks_dir()), "--output_path", str(output), *job.lmms_eval_args]
    if job.limit is not None:
        args += ["--limit", f"{job.limit:g}"]
    bindir = Path(sys.executable).parent
    if sweep.launcher == "accelerate":
        accel = bindir / "accelerate"
        launch = [str(accel), "launch"] if accel.exists() else [sys.executable, "-m", "accelerate.commands.launch"]
        if sweep.num_processes > 1:
            launch.append("--multi_gpu")
        launch += ["--num_processes", str(sweep.num_processes)]
        if sweep.main_process_port or (port and sweep.num_processes > 1):
            launch += ["--main_process_port", str(sweep.main_process_port or port)]
        if sweep.lmms_eval_cmd:  # a script instead of `seats-eval eval` (tests)
            return launch + sweep.lmms_eval_cmd[1:] + args
        return launch + EVAL + args
    if sweep.lmms_eval_cmd:
        return list(sweep.lmms_eval_cmd) + args
    return [sys.executable, *EVAL, *args]


def array_ranges(indices: Sequence[int]) -> str:
    """sbatch --array of job indices: [0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    parts: list[str] = []
    for i in sorted(set(indices)):
        if parts and parts[-1][1] == i - 1:
            parts[-1][1] = i
        else:
            parts.append([i, i])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def slurm_script(sweep: Sweep, *, extra_args: Sequence[str] = (), partition: str | None = None,
                 time_limit: str | None = None, gpus: int | None = None, cpus: int | None = None,
                 mem: str | None = None, max_parallel: int | None = None,
                 directives: Sequence[str] = (), path: Path | None = None,
                 jobs: Sequence[Job] | None = None) -> str:
    """An sbatch array script: array task i runs `seats-eval sweep --spec ... --job-index i`.

    Resources come from the arguments (the `--slurm-*` flags), else the spec's `slurm:`
    mapping (partition, time, gpus, cpus_per_task, mem, max_parallel, directives), else the
    defaults (24 h; one GPU per process; 8 CPUs per GPU). `gpus=0` writes no --gres (a CPU
    cluster, or the test cluster of scripts/slurm_local.sh). `jobs`: only these (`--only`);
    the array lists their indices in the whole sweep.
    """
    cfg = dict(sweep.slurm)
    partition = partition or cfg.get("partition")
    time_limit = time_limit or cfg.get("time", "24:00:00")
    if gpus is None:  # one GPU per process with the accelerate launcher
        gpus = int(cfg.get("gpus", 1))
        if sweep.launcher == "accelerate":
            gpus = max(gpus, sweep.num_processes)
    if cpus is None:
        cpus = int(cfg.get("cpus_per_task", 8 * max(1, int(gpus or 1))))
    if int(cpus) < 1 or int(gpus or 0) < 0:
        raise ConfigError(f"slurm: cpus per task must be >= 1 and gpus >= 0 (got cpus {cpus}, gpus {gpus})")
    mem = mem or cfg.get("mem")
    max_parallel = max_parallel or cfg.get("max_parallel")
    jobs = list(sweep.jobs if jobs is None else jobs)
    n = len(jobs)
    if n == 0:
        raise ConfigError(f"sweep {sweep.name}: no jobs to submit")
    array = array_ranges([j.index for j in jobs]) + (f"%{int(max_parallel)}" if max_parallel else "")
    logs = sweep.out / "slurm"
    exe = Path(sys.executable).parent / "seats-eval"
    seats = [str(exe)] if exe.exists() else [sys.executable, "-m", "seats_eval.cli"]
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={_slug('seats-' + sweep.name)}",
        f"#SBATCH --array={array}",
        f"#SBATCH --output={logs}/%A_%a.out",
        f"#SBATCH --error={logs}/%A_%a.out",
        f"#SBATCH --time={time_limit}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={int(cpus)}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{int(gpus)}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if mem:
        lines.append(f"#SBATCH --mem={mem}")
    lines += [f"#SBATCH {d}" for d in list(cfg.get("directives") or []) + list(directives)]
    job_list = "\n".join(f"#   {j.index:>3}  {j.name}" for j in jobs)
    cmd = shlex.join([*seats, "sweep", "--spec", str(sweep.spec_path), *extra_args,
                      "--no-progress", "--job-index"])
    lines += [
        "#",
        f"# seats-eval sweep {sweep.name}: {n} job(s), one per array task. Submit with:",
        f"#   sbatch {shlex.quote(str(path or sweep.out / 'sweep.sbatch'))}",
        "# Each array task runs one job; finished jobs are skipped, so resubmitting is safe.",
        "# Jobs (array index, name):",
        job_list,
        "set -euo pipefail",
        f"cd {shlex.quote(str(REPO))}",
        f"mkdir -p {shlex.quote(str(logs))}",
        'echo "array task ${SLURM_ARRAY_TASK_ID} on $(hostname)"',
        f'exec {cmd} "${{SLURM_ARRAY_TASK_ID}}"',
        "",
    ]
    return "\n".join(lines)


def write_slurm(sweep: Sweep, path: Path | None = None, **kwargs: Any) -> Path:
    path = path or sweep.out / "sweep.sbatch"
    (sweep.out / "slurm").mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, slurm_script(sweep, path=path.absolute(), **kwargs))
    path.chmod(0o755)
    return path
