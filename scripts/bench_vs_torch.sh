#!/usr/bin/env bash
# The engine's CPU training step against PyTorch's on the same machine, side by side:
#   scripts/bench_vs_torch.sh [--rounds N] [--steps N] [--threads N] [--model simple|vgg16|both]
# runs `build/tools/bench_train_step --device cpu` and `tools/bench_torch_reference.py
# --device cpu` (the same models, batch 32 at 96 px, forward + class-weighted cross-entropy +
# backward + AdamW, the same thread count) alternately, N rounds each, and prints every round's
# images per second, the median and best of each side and the engine/PyTorch ratio (the median of
# the rounds' ratios, so that a machine whose speed drifts compares fairly). Alternating matters on
# a shared machine: say the load average too, which the script prints before and after.
# PyTorch is Debian's python3-torch with python3-torchvision (oneDNN inside), for /usr/bin/python3;
# they are installed here when missing (as root or through sudo) - never by the build or the tests.
# BUSI_BUILD_DIR (default build/) is where bench_train_step is; it is built if missing.
# Exit status: 0 measured, 1 a run failed, 2 wrong usage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

rounds=3 steps=5 threads=2 model=both
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --steps) [ $# -ge 2 ] || usage; steps=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --model) [ $# -ge 2 ] || usage; model=$2; shift 2 ;;
    *) usage ;;
  esac
done
case "$model" in simple) models=(simple) ;; vgg16) models=(vgg16) ;; both) models=(simple vgg16) ;; *) usage ;; esac

python=/usr/bin/python3  # Debian's interpreter: python3-torch is installed for it
if ! "$python" -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "bench_vs_torch: installing python3-torch and python3-torchvision"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3-torch python3-torchvision >/dev/null
fi

build="${BUSI_BUILD_DIR:-$repo/build}"
engine="$build/tools/bench_train_step"
if [ ! -x "$engine" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target bench_train_step -j"$(nproc)" >/dev/null
fi

export OMP_NUM_THREADS=$threads
echo "bench_vs_torch: $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $threads threads each"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" -c "import torch; print('  PyTorch', torch.__version__, '| oneDNN', torch.backends.mkldnn.is_available())"
echo "  engine: $engine (kernels: ${BUSI_CPU_KERNELS:-chosen at run time})"

# img/s, the last column of the table row of `name` in a run's output.
img_per_s() { grep "^| $1" | tail -1 | awk -F'|' '{gsub(/ /, "", $(NF-1)); print $(NF-1)}'; }

for m in "${models[@]}"; do
  name=$([ "$m" = simple ] && echo SimpleCNN || echo VGG16)
  ours=() theirs=()
  for r in $(seq 1 "$rounds"); do
    e=$("$engine" --device cpu --model "$m" --steps "$steps" | img_per_s "$name") || exit 1
    t=$("$python" "$repo/tools/bench_torch_reference.py" --device cpu --model "$m" --steps "$steps" \
        --threads "$threads" | img_per_s "$name") || exit 1
    echo "  $name round $r: engine $e img/s, PyTorch $t img/s"
    ours+=("$e") theirs+=("$t")
  done
  "$python" - "$name" "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
name, ours, theirs = sys.argv[1], [float(v) for v in sys.argv[2].split()], [float(v) for v in sys.argv[3].split()]
ratios = [a / b for a, b in zip(ours, theirs)]
print(f"| {name} | {statistics.median(ours):.1f} (best {max(ours):.1f}) | "
      f"{statistics.median(theirs):.1f} (best {max(theirs):.1f}) | {statistics.median(ratios):.2f} "
      f"(rounds {min(ratios):.2f} to {max(ratios):.2f}) |")
PY
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(rows: model | engine img/s median (best) | PyTorch img/s median (best) | engine / PyTorch)"
