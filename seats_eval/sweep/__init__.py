"""Sweeps: method x R (x mode, x lambda, x switches) x tasks as lmms-eval jobs, resumable.

A sweep spec (YAML, `model_configs/sweeps/*.yaml`) lists the backbone, the tasks, common
model args and the jobs; each job is ONE lmms-eval run (all the spec's tasks) with its own
directory:

    <out>/jobs/<job name>/
        status.json     state: running | done | failed | skipped, the error, timings (atomic)
        job.json        the job's settings and their hash (`key`)
        attempt/        the run in progress: output/ (lmms-eval --output_path), records/
                        (SEATS_RECORD_DIR: records.jsonl, failures.jsonl), log.txt
        result/         the same, moved here (one rename) once the run has finished and its
                        results JSON holds every task
        .lock           flock held while a process works on the job

Resuming: a job whose status is `done` with the same settings hash is skipped; a job killed
mid-way (its status still says `running` but nobody holds its lock) is restarted from a clean
`attempt/` (the orphaned lmms-eval processes of that attempt are killed first); a finished
result is never replaced unless `--force`; a finished result with different settings is
reported as a conflict. Failed jobs are retried on the next run. A job that fails is recorded
with its error and the sweep goes on; the exit code says whether every job is done.

Scale-out uses existing engines only: `launcher: accelerate` runs each job through
`accelerate launch --num_processes N -m lmms_eval` (lmms-eval's own data-parallel path);
`--slurm` writes an sbatch array script, one array task per job, each calling
`seats-eval sweep --spec ... --job-index $SLURM_ARRAY_TASK_ID`.

The package, by concern (`__all__` below is its API; import anything else from its module):

    jobs.py       Job; a spec's job entries -> jobs (R / mode / lam products, names, budgets)
    spec.py       spec YAML (`base` merging) + CLI overrides -> Sweep; task sets, labels
    store.py      a job's files: atomic writes, status.json, results JSON, records
    launchers.py  the lmms-eval argv (local, accelerate) and the Slurm sbatch array script
    runner.py     run_job under its flock, orphan cleanup, log errors, run_sweep, sweep_status
"""

from .jobs import Job
from .launchers import lmms_eval_argv, write_slurm
from .runner import Interrupted, run_sweep, sweep_status
from .spec import Sweep, load_spec, select_jobs
from .store import read_status, write_json_atomic

__all__ = [
    "Interrupted", "Job", "Sweep", "lmms_eval_argv", "load_spec", "read_status", "run_sweep", "select_jobs",
    "sweep_status", "write_json_atomic", "write_slurm",
]
