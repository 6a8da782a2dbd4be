#!/usr/bin/env bash
# What only a real GPU can check, in one run (device time is short). Everything else - every
# kernel against the CPU, barriers, warp functions, launch limits, out-of-bounds accesses - runs
# without a GPU on the emulated device (-DBUSI_CUDA=EMULATE; CI runs it). Here: the CUDA tests
# natively (with the cuBLAS and cuDNN comparisons the emulator cannot make, and the real memory
# model and alignment rules), compute-sanitizer's memcheck on them, the kernel benchmark, and
# PyTorch on the same shapes as the reference. Each step has its own time limit and its own log
# in OUT_DIR; a failing step does not stop the others.
#
# Prepare here (no GPU needed):  scripts/stage_device_deps.sh     (headers for the GPU machine)
# Run there, from the repo root:  tools/gpu_session.sh "$OUT"      (device tool: carry [".deps"])
# The limits add up to under 6 minutes, so that a fix and a second run fit in 15 minutes of
# device time. The device tool brings back at most 8 files: summary.txt, machine.txt, tests.log,
# bench.log, train_step.log, torch_ref.log and logs.tgz (every log, the sanitizer's included).
# Then copy the figures into docs/benchmarks.md (date, GPU, commands, numbers).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-session}
logs="$out/logs"
mkdir -p "$logs"
build=build-gpu
jobs=$(nproc)
start=$(date +%s)

step() {  # step NAME SECONDS COMMAND...: runs COMMAND with a time limit, output to logs/NAME.log
  local name=$1 limit=$2
  shift 2
  local t0
  t0=$(date +%s)
  timeout "$limit" "$@" >"$logs/$name.log" 2>&1
  local status=$?
  echo "$(printf '%-12s' "$name") exit $status in $(( $(date +%s) - t0 )) s (limit $limit s)" |
    tee -a "$out/summary.txt"
}

{
  date -u '+%Y-%m-%d %H:%M UTC'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvcc --version | tail -2
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  # Complete torchvision VGG16 weights, if some cache happens to hold them.
  find / -name 'vgg16*.pth' -not -path '/proc/*' 2>/dev/null | head -5
} >"$out/machine.txt" 2>&1

# cuDNN on these machines comes as the Python wheel nvidia-cudnn-cu13 (CMake finds it too).
cudnn=$(python3 -c 'import nvidia.cudnn; print(nvidia.cudnn.__path__[0])' 2>/dev/null)
[ -n "$cudnn" ] && export LD_LIBRARY_PATH="$cudnn/lib:${LD_LIBRARY_PATH:-}"

step configure 40 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUSI_CUDA=ON
# Only what the steps below run: the CUDA tests and the two benchmarks.
step build 100 cmake --build "$build" -j "$jobs" --target test_cuda_kernels test_cuda_ops \
  test_cuda_runtime test_cuda_train_step bench_kernels bench_train_step
step tests 45 ctest --test-dir "$build" -R '^test_cuda_' --output-on-failure -j 4
step bench 30 "$build/tools/bench_kernels" --quick
step train_step 30 bash -c "BUSI_TF32=0 $build/tools/bench_train_step --device cuda &&
                            BUSI_TF32=1 $build/tools/bench_train_step --device cuda"
step torch_ref 30 python3 tools/bench_torch_reference.py
# Memcheck (misaligned and out-of-bounds device accesses, API errors, in cuBLAS and cuDNN calls
# too) on the kernel tests, last: the slowest step. Races and barrier misuse in the engine's own
# kernels are the emulator's job (racecheck and synccheck: tools/compute_sanitizer.sh by hand).
step sanitizer 50 env SANITIZER_TOOLS="memcheck" tools/compute_sanitizer.sh "$build" \
  -tc="cuda gemm*,cuda conv2d*,cuda parity: conv2d*"
cp "$build"/sanitizer/*.log "$logs/" 2>/dev/null
cp "$logs"/{tests,bench,train_step,torch_ref}.log "$out/" 2>/dev/null
tar -czf "$out/logs.tgz" -C "$out" logs && rm -rf "$logs"
echo "gpu_session: done in $(( $(date +%s) - start )) s; logs in $out" | tee -a "$out/summary.txt"
