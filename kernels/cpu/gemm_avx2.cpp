// The AVX2 + FMA float micro-kernel of the blocked GEMM (the contract is in gemm_microkernel.h).
// Compiled with function attributes (not per-file flags, which would let inline library code in
// this file use AVX2 for every caller); it only runs once cpu_kernels.h has found AVX2 and FMA.
//
// Tile 6 x 16: 12 accumulators of 8 floats (of the 16 ymm registers), two vector loads of B and
// six broadcasts of A per 12 FMAs, the classic shape for 16 registers.
#include <immintrin.h>

#include "kernels/cpu/gemm_microkernel.h"

namespace busi::cpu {

namespace {

constexpr int kMR = 6;
constexpr int kNV = 2;  // vectors of 8 floats per row: NR = 16
constexpr int kNR = 8 * kNV;

#define BUSI_AVX2 __attribute__((target("avx2,fma")))

BUSI_AVX2 void kernel_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                           int64_t rows, int64_t cols, float alpha, bool accumulate) {
  __m256 acc[kMR][kNV];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < kNV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (rows == kMR && cols == kNR) {  // a whole tile: vector stores
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < kNV; ++v) {
        float* at = c + r * ldc + 8 * v;
        __m256 out = _mm256_mul_ps(va, acc[r][v]);
        if (accumulate) out = _mm256_add_ps(out, _mm256_loadu_ps(at));
        _mm256_storeu_ps(at, out);
      }
    return;
  }
  // An edge tile: through a buffer, element by element.
  alignas(32) float tile[kMR][kNR];
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < kNV; ++v) _mm256_store_ps(&tile[r][8 * v], _mm256_mul_ps(va, acc[r][v]));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + tile[r][j] : tile[r][j];
}

#undef BUSI_AVX2

}  // namespace

MicroKernel<float> avx2_micro_kernel() {
  // kc 256: the B panel (16 KiB) and A panel (6 KiB) stay in L1; mc 120 rows (120 KiB of A) and
  // nc 768 columns (768 KiB of B) share a 1 MiB L2, as in the portable kernel.
  return MicroKernel<float>{kernel_6x16, kMR, kNR, 256, 768, 120, "avx2 6x16"};
}

}  // namespace busi::cpu
