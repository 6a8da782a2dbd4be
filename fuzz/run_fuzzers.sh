#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, clang) of every parser of untrusted bytes, under
# AddressSanitizer and UBSan:
#   fuzz/run_fuzzers.sh [BUILD_DIR] [SECONDS_EACH] [TARGET...]
# configures BUILD_DIR (default build-fuzz) with clang and -DBUSI_FUZZ=ON -DBUSI_SANITIZE=ON,
# builds the targets of fuzz/, writes the seed corpora (write_seeds), then runs each target for
# SECONDS_EACH (default 30; CI; as many targets at a time as there are cores) on its corpus
# BUILD_DIR/fuzz-corpus/<target> (kept between runs) and prints one line per target: executions,
# executions per second, coverage (edges), corpus.
# A crash, a hang (over 10 s on one input), a leak or an allocation over 1 GiB (in the Keras
# reader: past its cap) leaves its input in BUILD_DIR/fuzz-findings/ and makes the script exit 1;
# each finding becomes a regression test
# (tests/test_fuzz_regressions.cpp). Installs clang and libclang-rt-14-dev (libFuzzer) when they
# are missing. FUZZ_SEED sets libFuzzer's seed (default 1, so that CI runs repeat).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build-fuzz}"
seconds="${2:-30}"
shift 2 2>/dev/null || shift $#
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(image safetensors json checkpoint split_csv torch_checkpoint keras_h5)

need=()
command -v clang++ >/dev/null || need+=(clang)
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 ||
  need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "run_fuzzers: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null || {
    echo "run_fuzzers: could not install ${need[*]}" >&2
    exit 1
  }
fi
"$repo/scripts/install_deps.sh"

CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DBUSI_FUZZ=ON -DBUSI_SANITIZE=ON \
  -DBUSI_CUDA=OFF -DBUSI_NATIVE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" --target write_seeds "${targets[@]/#/fuzz_}" >/dev/null ||
  { echo "run_fuzzers: build failed" >&2; exit 1; }
"$build/fuzz/write_seeds" "$build/fuzz-seeds" >/dev/null || exit 1

mkdir -p "$build/fuzz-findings"
# UBSan reports stop the run (as crashes); leaks are checked (LeakSanitizer); each target
# writes its findings under its own prefix.
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$repo/fuzz/lsan_suppressions.txt:print_suppressions=0"
failed=()
printf "| target | seconds | executions | exec/s | coverage (edges) | features | corpus |\n"
printf "|---|---:|---:|---:|---:|---:|---:|\n"
# One target at a time per core (libFuzzer runs one thread each); the table is written after.
fuzz_one() {
  local t=$1 corpus="$build/fuzz-corpus/$1" log="$build/fuzz-findings/$1.log"
  mkdir -p "$corpus"
  # One allocation over 1 GiB is a finding, except in the Keras reader: libhdf5 sizes some
  # allocations from the file, so the reader caps the address space the library may take
  # (weights/address_space_cap.h) and a refused allocation must come back to it as null. There
  # the cap, and the 2 GiB RSS limit, are what is checked.
  local malloc_limit=1024
  [ "$t" = keras_h5 ] && malloc_limit=1048576
  "$build/fuzz/fuzz_$t" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=$malloc_limit -print_final_stats=1 -artifact_prefix="$build/fuzz-findings/$t-" \
    "$corpus" "$build/fuzz-seeds/$t" >"$log" 2>&1
  echo $? >"$log.status"
}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
  fuzz_one "$t" &
done
wait
for t in "${targets[@]}"; do
  log="$build/fuzz-findings/$t.log"
  status=$(cat "$log.status" 2>/dev/null || echo 1)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
  printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$t" "$seconds" "${runs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [ "$status" -ne 0 ] || ls "$build/fuzz-findings/$t-"* >/dev/null 2>&1; then
    echo "run_fuzzers: $t FOUND A PROBLEM (exit $status); its log: $log" >&2
    grep -E -A12 'ERROR: |runtime error|Timeout|out-of-memory|leak' "$log" | head -n 30 >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_fuzzers: findings in ${failed[*]} (inputs in $build/fuzz-findings/)" >&2
  exit 1
fi
echo "run_fuzzers: ${#targets[@]} targets, ${seconds} s each, no finding"
