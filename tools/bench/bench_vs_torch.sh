#!/usr/bin/env bash
# The engine's CPU training step against PyTorch's, run the way PyTorch's guides say, side by side:
#   tools/bench/bench_vs_torch.sh [--rounds N] [--steps N] [--threads N] [--model simple|vgg16|both]
#                             [--precision fp32|bf16|both] [--glibc]
# runs `build/tools/bench_train_step --device cpu` and `tools/bench/bench_torch_reference.py --device
# cpu` (the same models, batch 32 at 96 px, forward + class-weighted cross-entropy + backward +
# AdamW, the same thread count) alternately, N rounds each, and prints every round's images per
# second, the median and best of each side and the engine/PyTorch ratio (the median of the rounds'
# ratios, so that a machine whose speed drifts compares fairly).
#
# PyTorch as a user who cares about speed runs it (its CPU performance tuning guide):
#   - tcmalloc preloaded (Debian's libgoogle-perftools4): with glibc's malloc PyTorch returns its
#     activation buffers to the system after every step and faults them back in on the next, which
#     on these virtual machines made it 4x slower; --glibc adds that configuration as an extra,
#     labelled column (the figures docs/benchmarks.md recorded before issue 26);
#   - OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for PyTorch's command only (the engine ignores
#     them; forcing a core type on OpenBLAS can pick slower kernels than it detects);
#   - OMP_NUM_THREADS and torch.set_num_threads both at --threads, as for the engine;
#   - the oneDNN ISA it dispatches to (ONEDNN_VERBOSE), its BLAS and its allocator printed.
# --precision bf16 times both sides in bf16 mixed precision: PyTorch under
# torch.autocast("cpu", dtype=torch.bfloat16), the engine with --precision bf16.
# The engine's VGG16 step is also given as GFLOP/s and as a share of the 512-bit FMA peak that
# `bench_cpu --peak-only` measures in the same run (the step's FLOPs counted from the layer shapes).
# PyTorch is Debian's python3-torch with python3-torchvision (oneDNN inside), for /usr/bin/python3;
# they and libgoogle-perftools4 are installed here when missing (as root or through sudo) - never
# by the build or the tests. BUSI_BUILD_DIR (default build/) is where the engine's tools are.
# Exit status: 0 measured, 1 a run failed, 2 wrong usage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage() { sed -n '2,3p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

rounds=3 steps=5 threads=2 model=both precision=fp32 glibc=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --steps) [ $# -ge 2 ] || usage; steps=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --model) [ $# -ge 2 ] || usage; model=$2; shift 2 ;;
    --precision) [ $# -ge 2 ] || usage; precision=$2; shift 2 ;;
    --glibc) glibc=1; shift ;;
    *) usage ;;
  esac
done
case "$model" in simple) models=(simple) ;; vgg16) models=(vgg16) ;; both) models=(simple vgg16) ;; *) usage ;; esac
case "$precision" in fp32 | bf16) precisions=("$precision") ;; both) precisions=(fp32 bf16) ;; *) usage ;; esac

python=/usr/bin/python3  # Debian's interpreter: python3-torch is installed for it
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
if ! "$python" -c "import torch, torchvision" >/dev/null 2>&1 || [ ! -f "$tcmalloc" ]; then
  echo "bench_vs_torch: installing python3-torch, python3-torchvision and libgoogle-perftools4"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3-torch python3-torchvision libgoogle-perftools4 >/dev/null
fi

build="${BUSI_BUILD_DIR:-$repo/build}"
engine="$build/tools/bench_train_step"
if [ ! -x "$engine" ] || [ ! -x "$build/tools/bench_cpu" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target bench_train_step bench_cpu -j"$(nproc)" >/dev/null
fi
if [[ " ${precisions[*]} " == *" bf16 "* ]] && ! "$engine" --help 2>&1 | grep -q -- --precision; then
  echo "bench_vs_torch: $engine has no --precision flag (built before bf16 existed): rebuild it" >&2
  exit 1
fi

export OMP_NUM_THREADS=$threads
# PyTorch's command: tcmalloc preloaded, OpenBLAS's overrides removed for it alone.
torch_tuned() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_PRELOAD="$tcmalloc" "$@"; }
torch_glibc() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u LD_PRELOAD "$@"; }

echo "bench_vs_torch: $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $threads threads each"
echo "  CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_bf16|amx_tile)$' | tr '\n' ' ')"
echo "  L2: $(lscpu | awk -F: '/^L2 cache/ {gsub(/^ +/, "", $2); print $2}'), L1d: $(lscpu | awk -F: '/^L1d cache/ {gsub(/^ +/, "", $2); print $2}')"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
torch_tuned "$python" -c "import torch; print('  PyTorch', torch.__version__, '| oneDNN', torch.backends.mkldnn.is_available())"
# The instruction set oneDNN dispatches to, and the convolution implementation it picks in FP32
# and under bf16 autocast, from its verbose log of one convolution of VGG16's size class (small
# ones bypass oneDNN). ATen's own vectorised kernels report their level separately.
verbose=$(torch_tuned env ONEDNN_VERBOSE=1 "$python" -c "
import torch
torch.set_num_threads($threads)
x, w = torch.randn(8, 64, 32, 32), torch.randn(64, 64, 3, 3)
torch.nn.functional.conv2d(x, w, padding=1)
with torch.autocast('cpu', dtype=torch.bfloat16):
    torch.nn.functional.conv2d(x, w, padding=1)
print('aten', torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, 'cpu') else
      [l.split(':')[1].strip() for l in torch.__config__.show().splitlines() if 'CPU capability' in l][0])
" 2>&1 || true)
isa=$(grep -m1 'info,cpu,isa:' <<<"$verbose" | sed 's/.*isa://' || true)
conv_impl=$(grep ',convolution,' <<<"$verbose" | cut -d, -f5 | tr '\n' ' ' || true)
aten=$(grep -m1 '^aten ' <<<"$verbose" | cut -d' ' -f2- || true)
echo "  PyTorch's oneDNN ISA: ${isa:-not reported}; its convolutions (FP32, bf16): ${conv_impl:-not reported}; ATen's CPU capability: ${aten:-n/a}"
echo "  engine: $engine (kernels: ${BUSI_CPU_KERNELS:-chosen at run time})"
peak=$("$build/tools/bench_cpu" --peak-only | awk '/^  512-bit/ && /measured/ {print $3}')
echo "  FP32 FMA peak measured now (bench_cpu --peak-only, 512-bit, $threads threads): ${peak:-n/a} GFLOP/s"

# img/s, the last column of the table row of `name` in a run's output.
img_per_s() { grep "^| $1" | tail -1 | awk -F'|' '{gsub(/ /, "", $(NF-1)); print $(NF-1)}'; }

summary=() notes=()
for p in "${precisions[@]}"; do
  for m in "${models[@]}"; do
    name=$([ "$m" = simple ] && echo SimpleCNN || echo VGG16)
    engine_flags=(--device cpu --model "$m" --steps "$steps")
    [ "$p" = bf16 ] && engine_flags+=(--precision bf16)
    torch_flags=(--device cpu --model "$m" --steps "$steps" --threads "$threads" --precision "$p")
    ours=() tuned=() plain=()
    for r in $(seq 1 "$rounds"); do
      e=$("$engine" "${engine_flags[@]}" | img_per_s "$name") || exit 1
      t=$(torch_tuned "$python" "$repo/tools/bench/bench_torch_reference.py" "${torch_flags[@]}" |
          img_per_s "$name") || exit 1
      line="  $name $p round $r: engine $e img/s, PyTorch (tcmalloc) $t img/s"
      if [ "$glibc" = 1 ]; then
        g=$(torch_glibc "$python" "$repo/tools/bench/bench_torch_reference.py" "${torch_flags[@]}" |
            img_per_s "$name") || exit 1
        line+=", PyTorch (glibc malloc) $g img/s"
        plain+=("$g")
      fi
      echo "$line"
      ours+=("$e") tuned+=("$t")
    done
    out=$("$python" - "$name" "$p" "${ours[*]}" "${tuned[*]}" "${plain[*]:-}" "${peak:-0}" <<'PY'
import statistics, sys
name, precision = sys.argv[1], sys.argv[2]
ours, tuned = [float(v) for v in sys.argv[3].split()], [float(v) for v in sys.argv[4].split()]
plain = [float(v) for v in sys.argv[5].split()]
peak = float(sys.argv[6])
def med(v):
    return f"{statistics.median(v):.1f} (best {max(v):.1f})"
ratios = [a / b for a, b in zip(ours, tuned)]
row = (f"| {name} | {precision} | {med(ours)} | {med(tuned)} | "
       f"{med(plain) if plain else '-'} | {statistics.median(ratios):.2f} "
       f"(rounds {min(ratios):.2f} to {max(ratios):.2f}) |")
if name == "VGG16" and peak > 0:
    # VGG16's 13 conv layers at 96 px, batch 32: forward 2 * N * H * W * Cout * Cin * 9 FLOPs each;
    # a training step is the forward, the input gradient (not for the first layer) and the
    # weight gradient, each as many FLOPs as the forward. The head's FLOPs are negligible.
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
    n, hw, cin, flops, first = 32, 96, 3, 0.0, True
    for c in cfg:
        if c == "M":
            hw //= 2
            continue
        fwd = 2.0 * n * hw * hw * c * cin * 9
        flops += fwd * (2 if first else 3)
        cin, first = c, False
    rate = statistics.median(ours) / n * flops / 1e9
    row += (f"\n  (the engine's VGG16 {precision} step: {flops / 1e9:.0f} GFLOP, {rate:.0f} GFLOP/s, "
            f"{100 * rate / peak:.0f} % of the FP32 FMA peak measured in this run)")
print(row)
PY
)
    summary+=("$(head -1 <<<"$out")")
    note=$(tail -n +2 <<<"$out")
    if [ -n "$note" ]; then notes+=("$note"); fi
  done
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | precision | engine img/s median (best) | PyTorch, tcmalloc | PyTorch, glibc malloc | engine / PyTorch (tcmalloc) |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
[ ${#notes[@]} -eq 0 ] || printf '%s\n' "${notes[@]}"
