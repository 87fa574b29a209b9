#!/usr/bin/env bash
# Every GPU figure of seats-eval in one short run (issue 17), most valuable first:
#   1. tests   pytest -m gpu tests/test_gpu.py: identity with stock generate and the mask oracle on
#              CUDA (fp32 strict, bf16 with stated tolerances), the no-sync check of the drop steps
#              under torch.cuda.set_sync_debug_mode("error"), the two-device split (cuda:0 + cpu)
#   2. prefill_qwen25  bench prefill, Qwen2.5-Omni-7B at WorldSense size: full, SEATS R=0.35/0.25/0.10,
#              FastV-om, DivPrune-om, VisionZip-om, OmniZip (R=0.35): prefill, TTFT, peak memory, FLOPs
#              ratios (paper and true conventions), selection alone (the runtime's selection loop
#              with no layer run, device-synced: no queued layer counted as selection), plus a
#              torch.profiler breakdown of full and SEATS R=0.10. The allocator is emptied once per
#              method before its runs, never inside a timed window.
#   3. select  bench select --methods all --stage1 (hidden width of the backbone; each part between
#              device syncs) and the official Stage I new vs old on identical tensors (ratio, ops)
#   4. prefill_qwen3   bench prefill, Qwen3-Omni-30B-A3B (the real MoE thinker, ~62 GB bf16): full
#              and SEATS R=0.10, with profile
#   5. sharing  bench sharing, Qwen2.5-Omni-7B at WorldSense size: prefill per question alone and
#              with prefix sharing at 1, 2, 3 questions per video (full, SEATS R=0.35)
#   6. summary.md: every stage's exit status and time, the targets, all tables (printed at the end)
# Each stage has its own time limit and a failing stage does not stop the later ones. The limits
# add up to 7.7 minutes, 8.7 at worst with the kill grace (expected on an H200: about 4). Output
# (6 files): log, summary.md (every stage's table) and bench_*.json under $OUT (or --out DIR);
# the stages' own .md copies go to a scratch folder (at most 8 files come back from the GPU machine).
#
# On the bare GPU machine (Python 3.12, torch 2.11, no lmms-eval/av/decord), from the repo root:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD && bash scripts/gpu_bench.sh
# CPU dry run (proxy sizes, 2 windows, 1 repeat, 1 thread, a subset of the tests; not GPU figures):
#   bash scripts/gpu_bench.sh --device cpu --out /tmp/dry
set -u
cd "$(dirname "$0")/.."
DEVICE=cuda
OUT_DIR="${OUT:-}"
PY="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --out) OUT_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gpu_bench.sh: unknown argument $1 (use --device cuda|cpu, --out DIR)" >&2; exit 2 ;;
  esac
done
if [ -z "$OUT_DIR" ]; then
  OUT_DIR="results/gpu_bench/$(date +%Y%m%d-%H%M%S)-$DEVICE"
fi
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
STAGES="$(mktemp -d)/stages.tsv"  # not under OUT_DIR: only 8 files come back from the GPU machine
: > "$STAGES"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
case ":${PYTHONPATH:-}:" in *":$PWD:"*) ;; *) export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" ;; esac
exec > >(tee -a "$OUT_DIR/log") 2>&1
TEE_PID=$!

if [ "$DEVICE" = cpu ]; then  # the dry run: every stage and code path, at proxy sizes
  WINDOWS=2; REPEATS=1; WARMUP=0  # 2 windows: DyCoke needs one whole 4-frame group
  QWEN25_METHODS="full,seats@0.35,seats@0.1"  # every method's selection still runs in `select`
  QWEN3_PROFILE=()  # the profiler path runs in the Qwen2.5 stage
  TEST_ARGS=(-k "split and scripted")
  export SEATS_TEST_DEVICE=cpu
  # one thread: the proxies' many small ops (128 experts x 48 layers) only lose from threading
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
  LIMIT_TESTS=240; LIMIT_PREFILL=240; LIMIT_SELECT=120; LIMIT_QWEN3=240; LIMIT_SHARING=240
  SHARING_ARGS=(--repeats 1 --warmup 0)
else
  WINDOWS=32; REPEATS=5; WARMUP=2
  QWEN25_METHODS="full,seats@0.35,seats@0.25,seats@0.1,fastv_om@0.35,divprune_om@0.35,visionzip_om@0.35,omnizip@0.35"
  QWEN3_PROFILE=(--profile)
  TEST_ARGS=()
  LIMIT_TESTS=90; LIMIT_PREFILL=120; LIMIT_SELECT=60; LIMIT_QWEN3=110; LIMIT_SHARING=80
  SHARING_ARGS=(--repeats 1 --warmup 1)  # 2 methods x 2 x 12 prefills: ~50 prefills
fi

echo "== gpu_bench.sh: device $DEVICE, output $OUT_DIR, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$PY" - <<'EOF'
import platform, torch, transformers
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"transformers {transformers.__version__}")
if torch.cuda.is_available():
    print(f"device: {torch.cuda.get_device_name(0)}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
if transformers.__version__ != "5.23.0":
    print("WARNING: transformers is not 5.23.0 (install the carried wheel: see the header of this script)")
EOF

# stage NAME LIMIT_S OUTPUT_JSON CMD...: run CMD under a time limit; record exit status and seconds
stage() {
  local name="$1" limit="$2" output="$3"; shift 3
  echo; echo "== stage $name (limit ${limit}s): $*"
  local start rc
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  [ "$rc" -eq 124 ] && echo "== stage $name: time limit of ${limit}s reached"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" "$output" >> "$STAGES"
  echo "== stage $name: exit $rc"
}

BENCH=("$PY" -m seats_eval.cli bench)
COMMON=(--device "$DEVICE" --windows "$WINDOWS" --repeats "$REPEATS" --warmup "$WARMUP" --out "$OUT_DIR")
stage tests "$LIMIT_TESTS" "" \
  "$PY" -m pytest -q -rfE --durations=8 -m gpu tests/test_gpu.py -p no:cacheprovider ${TEST_ARGS[@]+"${TEST_ARGS[@]}"}
stage prefill_qwen25 "$LIMIT_PREFILL" "$OUT_DIR/bench_prefill_qwen25omni_$DEVICE.json" \
  "${BENCH[@]}" prefill --backbone qwen2.5-omni-7b --methods "$QWEN25_METHODS" --profile "${COMMON[@]}" \
  --tag "bench_prefill_qwen25omni_$DEVICE"
stage select "$LIMIT_SELECT" "$OUT_DIR/bench_select_$DEVICE.json" \
  "${BENCH[@]}" select --backbone qwen2.5-omni-7b --methods all --stage1 "${COMMON[@]}" --repeats $(( REPEATS * 2 )) \
  --tag "bench_select_$DEVICE"
stage prefill_qwen3 "$LIMIT_QWEN3" "$OUT_DIR/bench_prefill_qwen3omni_$DEVICE.json" \
  "${BENCH[@]}" prefill --backbone qwen3-omni-30b-a3b --methods full,seats@0.1 ${QWEN3_PROFILE[@]+"${QWEN3_PROFILE[@]}"} \
  "${COMMON[@]}" \
  --tag "bench_prefill_qwen3omni_$DEVICE"

stage sharing "$LIMIT_SHARING" "$OUT_DIR/bench_sharing_$DEVICE.json" \
  "${BENCH[@]}" sharing --backbone qwen2.5-omni-7b --methods full,seats@0.35 --device "$DEVICE" \
  --windows "$WINDOWS" "${SHARING_ARGS[@]}" --out "$OUT_DIR" --tag "bench_sharing_$DEVICE"
mv "$OUT_DIR"/bench_*.md "$(dirname "$STAGES")"/ 2>/dev/null  # summary.md holds every table

echo; echo "== summary"
"$PY" -m seats_eval.bench.report --stages "$STAGES" --out "$OUT_DIR/summary.md"
status=$?
ls -la "$OUT_DIR"
rc=1
if [ "$status" -eq 0 ] && awk -F'\t' '$2 != 0 {bad = 1} END {exit bad}' "$STAGES"; then
  rc=0
fi
echo "== gpu_bench.sh: exit $rc"
exec >&- 2>&-  # let tee write the end of the log before the output folder is collected
wait "$TEE_PID" 2>/dev/null || sleep 1
exit "$rc"
