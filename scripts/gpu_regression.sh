#!/usr/bin/env bash
# The GPU subset regression (docs/regression.md), as the nightly workflow
# (.github/workflows/gpu-regression.yml) and the sbatch script (scripts/gpu_regression.sbatch)
# run it: for each backbone, full tokens and SEATS R = 35 on the stable subsets of the five
# benchmarks (about one GPU-hour each on an H100-class GPU), then
#   1. against the stored baseline of this setup (exact McNemar on the per-question outcomes),
#      when one exists (REGRESSION_BASELINES/<spec>.json; the first run writes it: commit or
#      keep that file deliberately), and
#   2. against the paper (--against paper: the hypergeometric band of each cell).
# Exit 0 only when every check passed; a failure names the cell (docs/regression.md: reading
# a failure). Needs the weights and the five releases where the tasks find them (tasks/README.md).
#
#   scripts/gpu_regression.sh [qwen25omni] [qwen3omni]      # default: qwen25omni
#   scripts/gpu_regression.sh tiny     # the same on CPU: the trained tiny model, fixture twins (a dry run)
# Environment: SEATS_EVAL (default: seats-eval), REGRESSION_BASELINES (default
# results/regression-baselines), RESULTS (default results/sweeps), SWEEP_ARGS (extra flags).
set -u
cd "$(dirname "$0")/.."
SEATS_EVAL="${SEATS_EVAL:-seats-eval}"
BASELINES="${REGRESSION_BASELINES:-results/regression-baselines}"
RESULTS="${RESULTS:-results/sweeps}"
backbones=("$@")
[ ${#backbones[@]} -eq 0 ] && backbones=(qwen25omni)
rc=0
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for bb in "${backbones[@]}"; do
  spec="regression_${bb}"
  out="$RESULTS/${spec}-${stamp}"
  start=$(date +%s)
  # --force: a fresh run every night, never a result left over from an earlier one
  $SEATS_EVAL sweep --spec "$spec" --out "$out" --force --no-progress ${SWEEP_ARGS:-}
  one=$?
  echo "gpu regression: sweep $spec exit $one in $(( $(date +%s) - start ))s ($out)"
  [ "$one" -ne 0 ] && rc=$one
  base="$BASELINES/${spec}.json"
  if [ -f "$base" ]; then
    $SEATS_EVAL regression --spec "$spec" --out "$out" --baseline "$base"
    one=$?
    echo "gpu regression: $spec against its baseline $base: exit $one"
    [ "$one" -ne 0 ] && rc=$one
  else
    mkdir -p "$BASELINES"
    $SEATS_EVAL regression --spec "$spec" --out "$out" --baseline "$base" --update
    echo "gpu regression: no baseline yet: wrote $base from this run (the next runs compare with it)"
  fi
  $SEATS_EVAL regression --spec "$spec" --out "$out" --against paper
  one=$?
  echo "gpu regression: $spec against the paper: exit $one"
  [ "$one" -ne 0 ] && rc=$one
done
exit "$rc"
