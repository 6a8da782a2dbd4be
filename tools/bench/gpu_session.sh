#!/usr/bin/env bash
# What only a real GPU can check, in one prepared, time-boxed run (device time is short: about
# 15 minutes a session, 10 a command, minutes to start a machine). Everything else runs without
# a GPU on the emulated device (-DBUSI_CUDA=EMULATE, in CI).
#
#   Prepare here:  scripts/build_gpu_bundle.sh      (the programs, built for sm_90: .gpu-bundle/)
#   On the GPU:    device tool run, carry [".gpu-bundle"], command: tools/bench/gpu_session.sh "$OUT"
#   Dry run:       tools/bench/gpu_session.sh --dry-run OUT_DIR   (here and in CI: the same steps on the
#                  emulated device, from the emulated build in build/; BUSI_BUILD_DIR to change)
#
# The steps, in order of what they verify, each with its own time limit (the limits add up to
# 420 s, so that a fix and a second run fit in the 15 minutes with two machine starts):
#   preflight   20 s  GPU, driver, the libraries found, ldd of the bundle, gpu_preflight (versions,
#                     cuDNN against the build's, the self-check of the main kernels), test_cuda_runtime
#   build       90 s  only when the bundle cannot run there: a build from source (16 cores)
#   tests       50 s  the CUDA tests natively, with their cuBLAS and cuDNN comparisons
#   bench       45 s  bench_kernels --quick: copy bandwidth, kernels against cuBLAS / cuDNN
#   train_step 100 s  a training step of each model, the engine against PyTorch eager, TF32 off and
#                     on: four processes of 25 s each, 3 timed steps
#   torch_ref   25 s  PyTorch's SGEMM and convolution timings on the same shapes
#   sanitizer   60 s  compute-sanitizer memcheck on the hand-written kernels, with exact-size,
#                     uncached allocations (BUSI_CUDA_ALLOC=exact) so that small overruns show
#   ncu         30 s  one Nsight Compute pass on the hand-written SGEMM, if time is left
# Each step streams its output to OUT_DIR/<step>.log and one verdict line to OUT_DIR/summary.txt
# as it ends, so whatever a cut-off run wrote comes back (the device tool returns at most 8 files:
# these 8). No search of the file system: the libraries are found through Python's package
# metadata, ldconfig and CUDA's standard folders. Then copy the figures into docs/benchmarks.md
# with the date and the GPU; docs/cuda.md lists what each step must confirm.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

dry_run=0
if [ "${1:-}" = "--dry-run" ]; then
  dry_run=1
  shift
fi
out=${1:-gpu-session}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/{summary.txt,preflight.log,tests.log,bench.log,train_step.log,torch_ref.log}
rm -f "$out"/{sanitizer.log,ncu.log}
state=$(mktemp -d)  # what the steps tell each other: which binaries to use
trap 'rm -rf "$state"' EXIT
export BUSI_CACHE_DIR="$state/cache"  # the self-check's verdicts: this run's only

steps=(preflight build tests bench train_step torch_ref sanitizer ncu)
declare -A limit=([preflight]=20 [build]=90 [tests]=50 [bench]=45 [train_step]=100
                  [torch_ref]=25 [sanitizer]=60 [ncu]=30)
budget=0
for s in "${steps[@]}"; do budget=$((budget + limit[$s])); done
if [ "$budget" -gt 420 ]; then
  echo "gpu_session: the step limits add up to $budget s, over 420 s" >&2
  exit 2
fi
export dry_run out state
export bundle=${BUSI_GPU_BUNDLE_DIR:-.gpu-bundle} emu_build=${BUSI_BUILD_DIR:-build}
export cuda_tests="test_cuda_runtime test_cuda_kernels test_cuda_ops test_cuda_train_step test_gpu_self_check test_device"
export gpu_tools="gpu_preflight bench_kernels bench_train_step"

# ---- Helpers (exported: each step runs in its own bash under `timeout`) -------------------------

# bin NAME: the path of program NAME in the binaries this run uses (bundle, build, or emulated).
bin() {
  local from
  from=$(cat "$state/binaries" 2>/dev/null || echo bundle)
  case "$from" in
    bundle) echo "$bundle/bin/$1" ;;
    build) [ -x "build-gpu/tests/$1" ] && echo "build-gpu/tests/$1" || echo "build-gpu/tools/$1" ;;
    emulated) [ -x "$emu_build/tests/$1" ] && echo "$emu_build/tests/$1" || echo "$emu_build/tools/$1" ;;
  esac
}
# run SECONDS COMMAND...: the command with its own limit, its exit status noted in the log.
run() {
  local seconds=$1
  shift
  echo "\$ $*"
  timeout -k 5 "$seconds" "$@"
  local status=$?
  [ $status -eq 124 ] && echo "(stopped at its limit of $seconds s)"
  echo "(exit $status)"
  return $status
}
# skip REASON: ends a step as skipped (exit 77), the reason on its verdict line.
skip() {
  echo "SKIP: $*"
  exit 77
}
export -f bin run skip

# cuBLAS and cuDNN: from PyTorch's wheels (nvidia-cublas, nvidia-cudnn-cu13; asked of Python's
# package metadata, not searched for), ldconfig's cache, or CUDA's standard folders.
library_path() {
  local dirs
  dirs=$(timeout 10 python3 - 2>/dev/null <<'EOF'
import importlib.util, os
for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cu13"):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        print(os.path.join(folder, "lib"))
EOF
  )
  dirs+=" $(ldconfig -p 2>/dev/null | awk '/libcudnn\.so\.9 |libcublas\.so\.13 /{print $NF}' |
           xargs -r -n1 dirname | sort -u | tr '\n' ' ')"
  dirs+=" /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib"
  local path="" d
  for d in $dirs; do
    [ -d "$d" ] && [[ ":$path:" != *":$d:"* ]] && path="$path${path:+:}$d"
  done
  echo "$path"
}

# ---- The steps ----------------------------------------------------------------------------------

step_preflight() {
  date -u '+%Y-%m-%d %H:%M:%S UTC'
  echo "host: $(uname -srm), $(nproc) cores"
  if command -v nvidia-smi >/dev/null; then
    run 5 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm \
      --format=csv
  else
    echo "nvidia-smi: not installed"
  fi
  command -v nvcc >/dev/null && run 3 nvcc --version | tail -2
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  if [ -f "$bundle/MANIFEST.txt" ]; then
    sed -n '1,8p' "$bundle/MANIFEST.txt"
    local broken=0 f
    for f in "$bundle"/bin/*; do
      if ldd "$f" | grep -q "not found"; then
        echo "ldd $(basename "$f"): $(ldd "$f" | grep 'not found' | tr -s ' \t' ' ' | tr '\n' ';')"
        broken=1
      fi
    done
    [ $broken -eq 0 ] && echo "ldd: every library of the bundle's programs found"
    run 15 "$bundle/bin/gpu_preflight"
    local status=$?
    if [ $dry_run -eq 1 ]; then
      # No GPU here: the bundle's program must load (its libraries resolve) and say so (3).
      [ $status -eq 3 ] || { echo "FAIL: the bundle's gpu_preflight did not load here"; exit 1; }
      echo "the bundle loads here (exit 3: no GPU on this machine, as expected)"
      echo emulated >"$state/binaries"
    elif [ $broken -eq 1 ] || [ $status -eq 127 ] || [ $status -eq 3 ]; then
      echo "the bundle cannot run here: the build step builds from source"
      echo build >"$state/binaries"
      exit 1
    else
      echo bundle >"$state/binaries"
      [ $status -eq 0 ] || exit 1
    fi
  else
    echo "no bundle ($bundle/MANIFEST.txt missing: run scripts/build_gpu_bundle.sh first)"
    if [ $dry_run -eq 1 ]; then echo emulated >"$state/binaries"; else
      echo build >"$state/binaries"
      exit 1
    fi
  fi
  if [ $dry_run -eq 1 ]; then
    run 60 "$(bin gpu_preflight)" || exit 1  # the self-check on the emulated device
  fi
  run 15 "$(bin test_cuda_runtime)" || exit 1
}

step_build() {
  if [ "$(cat "$state/binaries")" != build ]; then
    [ $dry_run -eq 1 ] && skip "the dry run uses the emulated build ($emu_build)"
    skip "not needed: the bundle runs here"
  fi
  mkdir -p .deps/include
  [ -d "$bundle/include" ] && cp -r "$bundle/include/." .deps/include/
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  run 30 cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBUSI_CUDA=ON \
    -DBUSI_GPU_BUNDLE=ON -DBUSI_NATIVE=OFF -DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_JPEG=ON || exit 1
  # shellcheck disable=SC2086
  run 85 cmake --build build-gpu -j "$(nproc)" --target $cuda_tests $gpu_tools || exit 1
  run 15 "$(bin gpu_preflight)"
}

step_tests() {
  local t failed=0 seconds=50
  for t in $cuda_tests; do
    # Each test gets at most what is left of the step, so one that hangs costs only itself.
    local t0=$SECONDS
    run "$seconds" "$(bin "$t")" || failed=$((failed + 1))
    seconds=$((seconds - (SECONDS - t0)))
    [ $seconds -lt 3 ] && seconds=3
  done
  [ $failed -eq 0 ] || { echo "$failed test program(s) failed"; exit 1; }
}

step_bench() {
  if [ $dry_run -eq 1 ]; then
    run 40 "$(bin bench_kernels)" --smoke
  else
    run 43 "$(bin bench_kernels)" --quick --reps 5
  fi
}

step_train_step() {
  local failed=0
  if [ $dry_run -eq 1 ]; then
    local small=(--device cuda --steps 1 --batch 2 --img-size 32)
    BUSI_TF32=0 run 40 "$(bin bench_train_step)" "${small[@]}" || failed=1
    BUSI_TF32=1 run 40 "$(bin bench_train_step)" "${small[@]}" --model simple || failed=1
    if timeout 10 python3 -c 'import torch, torchvision' 2>/dev/null; then
      run 15 python3 tools/bench/bench_torch_reference.py --device cpu --steps 1 --batch 2 \
        --img-size 32 --threads 2 || failed=1
    else
      echo "PyTorch is not installed here: its training steps were not run"
    fi
  else
    BUSI_TF32=0 run 25 "$(bin bench_train_step)" --device cuda --steps 3 || failed=1
    BUSI_TF32=1 run 25 "$(bin bench_train_step)" --device cuda --steps 3 || failed=1
    run 25 python3 tools/bench/bench_torch_reference.py --only steps --tf32 off --steps 3 || failed=1
    run 25 python3 tools/bench/bench_torch_reference.py --only steps --tf32 on --steps 3 || failed=1
  fi
  exit $failed
}

step_torch_ref() {
  if [ $dry_run -eq 1 ]; then
    skip "PyTorch's GPU reference needs a GPU"
  fi
  run 24 python3 tools/bench/bench_torch_reference.py --only ops
}

step_sanitizer() {
  # The hand-written kernels (the emulated device checks their logic; this their memory accesses
  # on the hardware), each allocation exact and uncached, a synchronisation after each launch.
  export BUSI_CUDA_ALLOC=exact BUSI_GEMM=handwritten BUSI_CONV=handwritten BUSI_CUDA_SYNC=1
  local sanitizer=()
  if [ $dry_run -eq 0 ]; then
    local cs
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    [ -x "$cs" ] || skip "compute-sanitizer is not installed"
    sanitizer=("$cs" --tool memcheck --error-exitcode 86 --print-limit 20)
  else
    echo "compute-sanitizer needs a GPU: the same tests run with BUSI_CUDA_ALLOC=exact on the" \
         "emulated device, without it"
  fi
  local failed=0
  run 20 "${sanitizer[@]}" "$(bin test_cuda_train_step)" || failed=1
  run 22 "${sanitizer[@]}" "$(bin test_cuda_kernels)" -tc="cuda gemm*,cuda conv2d*" || failed=1
  run 15 "${sanitizer[@]}" "$(bin test_cuda_ops)" \
    -tc="cuda parity: max and average pooling,cuda parity: batch_norm2d*,cuda parity: cross_entropy*" ||
    failed=1
  exit $failed
}

step_ncu() {
  [ $dry_run -eq 1 ] && skip "Nsight Compute needs a GPU"
  local ncu
  ncu=$(command -v ncu || true)
  [ -n "$ncu" ] || skip "ncu is not installed"
  run 28 "$ncu" --clock-control none --kernel-name-base function --kernel-name regex:tiled_gemm \
    --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section MemoryWorkloadAnalysis "$(bin bench_kernels)" --only "hand-written: square" --reps 1
}
export -f step_preflight step_build step_tests step_bench step_train_step step_torch_ref
export -f step_sanitizer step_ncu

# ---- The run ------------------------------------------------------------------------------------

start=$SECONDS
export LD_LIBRARY_PATH
LD_LIBRARY_PATH="$(library_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  echo "gpu_session$([ $dry_run -eq 1 ] && echo ' --dry-run'): $(date -u '+%Y-%m-%d %H:%M UTC')," \
       "step limits $budget s in all"
} | tee "$out/summary.txt"
failures=0
for s in "${steps[@]}"; do
  if [ "$s" = ncu ] && [ $((SECONDS - start + limit[ncu])) -gt 420 ]; then
    verdict="SKIP"
    note="no time left in the 420 s"
    seconds=0
  else
    t0=$SECONDS
    timeout -k 5 "${limit[$s]}" bash -c "step_$s" >>"$out/$s.log" 2>&1
    status=$?
    seconds=$((SECONDS - t0))
    case $status in
      0) verdict="ok" note="" ;;
      77) verdict="SKIP" note=$(grep '^SKIP: ' "$out/$s.log" | tail -1 | cut -c7-) ;;
      124 | 137) verdict="TIMEOUT" note="stopped at its limit" ;;
      *) verdict="FAIL" note="exit $status: see $s.log" ;;
    esac
    # A preflight that sends the run to the build step is not a failure of the run: the build
    # step's own verdict says whether the programs could be made.
    if [ "$s" = preflight ] && [ "$(cat "$state/binaries" 2>/dev/null)" = build ]; then
      verdict="REBUILD"
      note="the bundle cannot run here: the build step builds from source"
    fi
  fi
  [ "$verdict" = FAIL ] || [ "$verdict" = TIMEOUT ] && failures=$((failures + 1))
  printf '%-11s %-8s %4d s (limit %3d s)%s\n' "$s" "$verdict" "$seconds" "${limit[$s]}" \
    "${note:+  $note}" | tee -a "$out/summary.txt"
done
echo "gpu_session: done in $((SECONDS - start)) s, $failures step(s) failed or timed out;" \
     "logs in $out" | tee -a "$out/summary.txt"
[ $failures -eq 0 ]
