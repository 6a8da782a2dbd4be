#!/usr/bin/env bash
# Runs the CUDA test executables under NVIDIA compute-sanitizer, for a session with a GPU:
#   memcheck   out-of-bounds and misaligned device accesses, invalid frees, API errors
#   racecheck  shared-memory data races (the tiled GEMM's double buffer, the block reductions)
#   synccheck  __syncthreads / warp-shuffle misuse (barriers in divergent code)
# Device-memory leak checking is off: the caching allocator keeps freed blocks until exit on
# purpose. BUSI_CUDA_SYNC=1 pins any error to the kernel that caused it. memcheck runs with
# BUSI_CUDA_ALLOC=exact: every tensor its own cudaMalloc of its very size, so that an access a few
# elements past its end is outside what memcheck knows as allocated (with the cache's rounded and
# reused blocks it would not be).
#
#   tools/bench/compute_sanitizer.sh [BUILD_DIR] [doctest options...]
#   e.g. tools/bench/compute_sanitizer.sh build -tc="*conv2d*"
# Exits non-zero when a tool reports an error or a test fails; prints one line per run.
set -uo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
shift || true
sanitizer=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
if [ ! -x "$sanitizer" ]; then
  echo "compute_sanitizer.sh: compute-sanitizer not found (set COMPUTE_SANITIZER=...)" >&2
  exit 2
fi
tests=("$build"/tests/test_cuda_*)
if [ ! -x "${tests[0]}" ]; then
  echo "compute_sanitizer.sh: no CUDA tests in $build/tests (build them first)" >&2
  exit 2
fi
tools=${SANITIZER_TOOLS:-"memcheck racecheck synccheck"}
log_dir="$build/sanitizer"
mkdir -p "$log_dir"
export BUSI_CUDA_SYNC=1

failures=0
for tool in $tools; do
  for test in "${tests[@]}"; do
    name=$(basename "$test")
    log="$log_dir/$name.$tool.log"
    start=$(date +%s)
    alloc=cache
    [ "$tool" = memcheck ] && alloc=exact
    BUSI_CUDA_ALLOC=$alloc "$sanitizer" --tool "$tool" --error-exitcode 86 --print-limit 20 \
      "$test" "$@" >"$log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1)
    if [ $status -eq 0 ]; then
      echo "ok    $tool $name (${seconds} s) ${summary}"
    else
      echo "FAIL  $tool $name (exit $status, ${seconds} s) ${summary}: see $log"
      failures=$((failures + 1))
    fi
    if grep -q "skipped: no usable GPU" "$log"; then
      echo "compute_sanitizer.sh: the tests were skipped (no usable GPU): nothing was checked" >&2
      exit 3
    fi
  done
done
exit $(( failures > 0 ))
