#!/usr/bin/env bash
# Write a sweep's sbatch array script and submit it: one array task per job, each running
#   seats-eval sweep --spec SPEC --job-index $SLURM_ARRAY_TASK_ID
# Finished jobs are skipped, so resubmitting after failures or time-outs is safe.
#
#   scripts/slurm_submit.sh table3_qwen25omni [seats-eval sweep flags...]
#   scripts/slurm_submit.sh table3_qwen25omni --slurm-partition gpu --slurm-max-parallel 8
#   scripts/slurm_submit.sh table3_qwen25omni --launcher accelerate --num_processes 4   # 4 GPUs per job
#
# Env: SEATS_EVAL (default: .venv/bin/seats-eval), DRY_RUN=1 to write the script only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
spec=$1
shift
seats=${SEATS_EVAL:-.venv/bin/seats-eval}
name=$(basename "${spec%.yaml}")
script=results/sweeps/slurm/${name}.sbatch
mkdir -p "$(dirname "$script")"
"$seats" sweep --spec "$spec" --slurm "$script" "$@"
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "DRY_RUN=1: not submitted; submit with: sbatch $script"
  exit 0
fi
command -v sbatch >/dev/null || { echo "sbatch not found: submit $script on the cluster" >&2; exit 1; }
sbatch "$script"
