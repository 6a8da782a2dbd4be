#!/usr/bin/env bash
# Builds two groups of tests with AddressSanitizer + UndefinedBehaviorSanitizer in their own
# build directory and runs them:
#   - the weight-file tests (safetensors reader/writer, checkpoints, converters): corrupt and
#     fuzzed files must give clean errors, never an invalid read;
#   - the CUDA tests on the emulated device (-DBUSI_CUDA=EMULATE): device memory is host memory
#     there, so a kernel that reads or writes outside a buffer (or outside its shared memory) is
#     reported, with the kernel's source line;
#   - the CPU kernels written with AVX-512 intrinsics and pointer-walking packers (the 2x2
#     max-pool gradient, the bf16 GEMM's pair panels, Winograd F(2x2)'s bf16 pair panels), whose
#     tests take seconds here;
#   - the convolution algorithms (im2col, fused packing, Winograd F(2x2) and F(4x4)) on the
#     awkward shapes of test_conv_algorithms (odd sizes, padding 0 and 2, images smaller than a
#     tile), in double: 3 s here; its float cases on the models' layer shapes take minutes
#     under the sanitizers and are left to the plain run.
# Usage: tests/asan_tests.sh [BUILD_DIR]   (default: build-asan, relative to the repo)
# Exit status: 0 when every test passed with no sanitizer report, 1 otherwise.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build-asan}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac

# The test executables: tests/test_safetensors*.cpp, test_checkpoint*.cpp, test_convert*.cpp,
# test_cuda_*.cpp and test_gpu_self_check.cpp (the self-check's kernels on the emulated device),
# the CPU kernel tests named above, plus the converter tool (test_convert runs it). Nothing else
# is built.
tests=()
for src in "$repo"/tests/test_safetensors*.cpp "$repo"/tests/test_checkpoint*.cpp \
           "$repo"/tests/test_convert*.cpp "$repo"/tests/test_cuda_*.cpp \
           "$repo"/tests/test_gpu_self_check.cpp "$repo"/tests/test_fuzz_regressions.cpp \
           "$repo"/tests/test_pool_2x2.cpp "$repo"/tests/test_gemm_bf16.cpp \
           "$repo"/tests/test_ops_bf16.cpp "$repo"/tests/test_conv_winograd_bf16.cpp; do
  [ -e "$src" ] && tests+=("$(basename "$src" .cpp)")
done

# -fsanitize=address,undefined comes from BUSI_SANITIZE in the root CMakeLists.txt; -O1 keeps
# the emulated kernels fast enough and the reports exact. The CUDA kernels run on the emulated
# device; no -march=native (the build directory may be shared between machines).
cmake -S "$repo" -B "$build" -DBUSI_SANITIZE=ON -DBUSI_CUDA=EMULATE -DBUSI_NATIVE=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}" test_conv_algorithms convert_weights

# Any sanitizer report must fail the run: ASan aborts by itself; UBSan only prints and goes on
# unless halt_on_error is set. Our options come last so that they win over any inherited ones.
# Leak checking is off: LeakSanitizer cannot run under ptrace (debuggers, some containers),
# and a leak is not the memory-safety error this script looks for.
# allocator_may_return_null: the Keras reader caps the memory libhdf5 may map (a corrupt file
# can make it ask for 4 GiB), and the refused malloc must return null to the library, as it does
# without ASan, rather than end the run.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:abort_on_error=1:print_stacktrace=1"

# The tests run as many at a time as there are cores (ctest runs them in parallel too: each
# writes under its own scratch folder); the reports are read afterwards, in order. A run is a
# test and a doctest filter: test_cuda_kernels, which takes longer under the sanitizers than all
# the others together, is two runs of about the same length: its transposed-A products and
# convolutions, and every other case (a comma in a doctest filter means "or").
half="cuda gemm (A transposed)*,cuda conv2d*"
# The longest runs start first, so that the short ones fill the cores around them.
runs=("test_cuda_kernels:part1:-tc=$half" "test_cuda_kernels:part2:-tce=$half")
for t in "${tests[@]}"; do
  [ "$t" = test_cuda_kernels ] || runs+=("$t::")
done
runs+=("test_conv_algorithms:awkward:-tc=every conv algorithm*,Winograd gradients*,a forced*")
run_one() {
  local t=${1%%:*} rest=${1#*:} options=$ASAN_OPTIONS status=0
  local part=${rest%%:*} filter=${rest#*:}
  local log="$build/tests/$t${part:+.$part}.asan.log"
  local args=()
  [ -n "$filter" ] && args=("$filter")
  # On the emulated device every CUDA thread is a fiber with a stack of its own, and ASan's
  # use-after-return checking gives each one a "fake stack" too, which costs more than the
  # kernel: off for the CUDA tests (their kernels' frames hold no pointers to return).
  case "$t" in
    test_cuda_* | test_gpu_self_check) options="$ASAN_OPTIONS:detect_stack_use_after_return=0" ;;
  esac
  ASAN_OPTIONS=$options "$build/tests/$t" "${args[@]}" >"$log" 2>&1 || status=$?
  echo "$status" >"$log.status"
}
for r in "${runs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  run_one "$r" &
done
wait

failed=()
for r in "${runs[@]}"; do
  t=${r%%:*} rest=${r#*:}
  part=${rest%%:*}
  echo "== $t${part:+ ($part)} (ASan + UBSan)"
  log="$build/tests/$t${part:+.$part}.asan.log"
  status=$(cat "$log.status" 2>/dev/null || echo "no status")
  tail -n 3 "$log"
  # A sanitizer report also fails the test when the process still exits 0. The exception:
  # test_cuda_emulator plants out-of-bounds bugs in child processes and expects their reports
  # (it checks them itself).
  planted=0
  [ "$t" = test_cuda_emulator ] && planted=1
  if [ "$status" != 0 ] ||
     { [ $planted -eq 0 ] && grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log"; }; then
    echo "asan_tests: $t${part:+ ($part)} FAILED (exit status $status; full output in $log):"
    grep -E -A20 "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log" | head -n 40 || true
    failed+=("$t${part:+ ($part)}")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "asan_tests: FAILED: ${failed[*]}"
  exit 1
fi
echo "asan_tests: all passed under ASan + UBSan (${tests[*]} test_conv_algorithms)"
