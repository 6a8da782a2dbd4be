#!/usr/bin/env bash
# A per-op profile of the CPU training step, with how much of it runs on one thread only:
#   tools/bench/profile_step.sh [--model simple|vgg16] [--steps N] [--threads N]
#                               [--precision fp32|bf16]
# runs `build/tools/bench_train_step --device cpu` under `perf record` (sampling both OpenMP
# threads; OMP_WAIT_POLICY=passive, so that a waiting thread sleeps instead of spinning and its
# samples are work only), sorts the samples by thread and function, groups the functions by op
# (the kernels of kernels/cpu/ are named after them) and prints, per op, its share of all samples
# and how its samples split between the main thread and the others. An op whose work the other
# threads share has main ~ others; the main thread's excess, (main - others) / main, is the share of
# the step that ran serially. Model set-up and the random input (before the first step) are
# counted apart. The 2 warm-up steps are sampled too, and they touch every buffer for the first
# time, so with few --steps the OS-kernel row is mostly their page faults; after them perf stat
# counts almost none (VGG16 about 60 a step, SimpleCNN 1 in 20 steps) and that row is thread
# sleeps and wake-ups (the passive wait policy) and interrupts. Use --steps 8 or more.
# Needs perf (Debian: linux-perf); BUSI_BUILD_DIR as in bench_vs_torch.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage() { sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
model=vgg16 steps=3 threads=2 precision=fp32
while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || usage; model=$2; shift 2 ;;
    --steps) [ $# -ge 2 ] || usage; steps=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --precision) [ $# -ge 2 ] || usage; precision=$2; shift 2 ;;
    *) usage ;;
  esac
done
build="${BUSI_BUILD_DIR:-$repo/build}"
data=$(mktemp /tmp/profile_step.XXXXXX.data)
trap 'rm -f "$data"' EXIT
echo "profile_step: $model in $precision, $steps steps after 2 warm-up steps, $threads threads, load average $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive perf record -q -F 999 -o "$data" \
  "$build/tools/bench_train_step" --device cpu --model "$model" --steps "$steps" --precision "$precision" | grep '^| [SV]'
perf report -i "$data" --stdio --no-children --sort pid,dso,sym -g none 2>/dev/null |
  python3 -c '
import re, sys
ops = [  # (op, pattern on "dso symbol"), first match wins
    ("setup: weights init, random input (before the steps)", r"Generator|busi::init|random_values|normal_|__cos|__ieee754_log|__sin"),
    ("conv: bf16 pair conversion (BF16 mode)", r"write_pair_panel|Bf16PairPacker|PackedOperandA"),
    ("conv: GEMM micro-kernel", r"kernel_8x48|kernel_6x16|portable_kernel"),
    ("conv: Winograd transforms", r"winograd|gather_patches|gather_output_tiles|scatter_output_tiles|for_each_run"),
    ("conv: im2col, packing, col2im", r"im2col|col2im|gemm_blocked|Packer|pack_a_whole|col_row_segment|MatrixPack"),
    ("conv: bias gradient, partial sums", r"conv_bias_gradient|sum_partials"),
    ("batch norm", r"batch_norm"),
    ("max pool", r"max_pool"),
    ("global average pool", r"avg_pool"),
    ("ReLU", r"relu"),
    ("AdamW update", r"adam|sgd_update|optim"),
    ("cross-entropy, softmax", r"softmax|cross_entropy|nll"),
    ("dropout", r"dropout"),
    ("linear", r"linear_|matmul_"),
    ("elementwise (gradient sums, scaling)", r"busi::cpu::(add|sub|mul|div|scale|axpy|binary|unary|fill|sum|elementwise)"),
    ("the OS kernel: page faults of first touches (warm-up steps), thread sleeps and wake-ups, interrupts", r"\[kernel"),
    ("copies and fills (libc: Winograd panel copies, clones)", r"memset|memmove|memcpy|__libc|malloc|free"),
    ("OpenMP runtime: fork, join, barriers", r"libgomp"),
]
rows = {}  # op -> {tid: percent}
tids = set()
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\d+):\S+\s+(.*)$", line)
    if not m:
        continue
    pct, tid, rest = float(m.group(1)), int(m.group(2)), m.group(3)
    tids.add(tid)
    op = next((name for name, pat in ops if re.search(pat, rest)), "other")
    rows.setdefault(op, {}).setdefault(tid, 0.0)
    rows[op][tid] += pct
main = min(tids)
setup = sum(rows.pop(ops[0][0], {}).values())
total = sum(sum(v.values()) for v in rows.values())
main_total = sum(v.get(main, 0.0) for v in rows.values())
print(f"\n| op | share of the step | main thread | other threads | serial (main excess, % of the step) |")
print("|---|---:|---:|---:|---:|")
serial_total = 0.0
for op, by_tid in sorted(rows.items(), key=lambda kv: -sum(kv[1].values())):
    mine = by_tid.get(main, 0.0)
    others = sum(v for t, v in by_tid.items() if t != main)
    peers = max(len(tids) - 1, 1)
    serial = max(0.0, mine - others / peers)
    serial_total += serial
    print(f"| {op} | {100 * (mine + others) / total:.1f} % | {100 * mine / total:.1f} % | "
          f"{100 * others / total:.1f} % | {100 * serial / main_total:.1f} % |")
print(f"\nserial share of the step: {100 * serial_total / main_total:.1f} % "
      f"(set-up before the steps, left out: {setup:.1f} % of all samples)")
'
