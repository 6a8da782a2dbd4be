#!/usr/bin/env bash
# Builds the weight-file tests (safetensors reader/writer, checkpoints, converters) with
# AddressSanitizer + UndefinedBehaviorSanitizer in their own build directory and runs them:
# corrupt and fuzzed files must give clean errors, never an invalid read.
# Usage: tests/asan_safetensors.sh [BUILD_DIR]   (default: build-asan, relative to the repo)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build-asan}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac

# The test executables of this part: tests/test_safetensors*.cpp, test_checkpoint*.cpp and
# test_convert*.cpp, plus the converter tool (test_convert runs it).
targets=(convert_weights)
for src in "$repo"/tests/test_safetensors*.cpp "$repo"/tests/test_checkpoint*.cpp \
           "$repo"/tests/test_convert*.cpp; do
  [ -e "$src" ] && targets+=("$(basename "$src" .cpp)")
done

# Debug (-O0) compiles fastest; ASan and UBSan are added by the root CMakeLists.txt.
cmake -S "$repo" -B "$build" -DBUSI_SANITIZE=ON -DBUSI_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

# Any sanitizer report fails the run (UBSan only prints and continues by default).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
for t in "${targets[@]}"; do
  [ "$t" = convert_weights ] && continue
  echo "== $t (ASan + UBSan)"
  if ! "$build/tests/$t"; then
    echo "asan_safetensors: $t FAILED"
    status=1
  fi
done
[ $status -eq 0 ] && echo "asan_safetensors: all weight-file tests passed under ASan + UBSan"
exit $status
