// The AVX-512 float micro-kernel of the blocked GEMM (the contract is in gemm_microkernel.h).
// Compiled with function attributes, not per-file flags, so nothing else in this file (inline
// library code the linker could pick for every caller) uses AVX-512 instructions; it only runs
// once cpu_kernels.h has found AVX-512 F on the CPU.
//
// Tile 8 x 48: 24 accumulators of 16 floats (of the 32 zmm registers), per k three vector loads
// of B and eight broadcasts of A for 24 FMAs. Two FMA pipes of latency 4 need at least 8
// independent accumulators in flight; 24 leaves room, and loads (11 per 24 FMAs) stay below the
// two a cycle the load units take.
#include <immintrin.h>

#include "kernels/cpu/gemm_avx512_tile.h"
#include "kernels/cpu/gemm_microkernel.h"

namespace busi::cpu {

namespace {

constexpr int kMR = avx512_tile::kMR;
constexpr int kNV = avx512_tile::kNV;  // vectors of 16 floats per row: NR = 48
constexpr int kNR = 16 * kNV;

#define BUSI_AVX512 __attribute__((target("avx512f")))

BUSI_AVX512 void kernel_8x48(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             int64_t rows, int64_t cols, float alpha, bool accumulate) {
  __m512 acc[kMR][kNV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    __m512 bv[kNV];
#pragma GCC unroll 3
    for (int v = 0; v < kNV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
      for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  avx512_tile::store_8x48(acc, c, ldc, rows, cols, alpha, accumulate);
}

#undef BUSI_AVX512

}  // namespace

MicroKernel<float> avx512_micro_kernel() {
  // kc 128: a B panel (128 x 48 floats, 24 KiB) fills half of a 48 KiB L1, leaving room for the
  // A panels streaming past it; mc 144 rows: the A block (72 KiB) and nc 960 columns: the B block
  // (480 KiB) share the 1 MiB L2. (kc 256 without an mc block was up to a third slower on the
  // Winograd-shaped products in bench_cpu, 1 thread.)
  return MicroKernel<float>{kernel_8x48, kMR, kNR, 128, 960, 144, "avx512 8x48"};
}

}  // namespace busi::cpu
