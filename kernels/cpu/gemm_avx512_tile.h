// Writing an 8 x 48 tile of AVX-512 accumulators back to C, the last step of both 8 x 48
// micro-kernels (the float one, gemm_avx512.cpp, and the bf16 one, gemm_bf16_avx512.cpp):
//   C[r][j] = alpha acc[r][j] (+ C[r][j] when accumulating), for r < rows and j < cols only.
// Internal linkage and always inlined into those kernels, whose function attributes already
// enable AVX-512: no AVX-512 code exists outside them for the linker to pick.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace busi::cpu::avx512_tile {

constexpr int kMR = 8;  // rows
constexpr int kNV = 3;  // vectors of 16 floats per row: 48 columns

__attribute__((target("avx512f"), always_inline)) static inline void store_8x48(
    const __m512 (&acc)[kMR][kNV], float* c, int64_t ldc, int64_t rows, int64_t cols, float alpha,
    bool accumulate) {
  const __m512 va = _mm512_set1_ps(alpha);
  // Lanes of each row vector inside the tile's `cols` columns (all of them for a full tile).
  __mmask16 mask[kNV];
  for (int v = 0; v < kNV; ++v) {
    const int64_t left = cols - 16 * v;
    mask[v] = left >= 16  ? __mmask16(0xFFFF)
              : left <= 0 ? __mmask16(0)
                          : __mmask16((1u << left) - 1);
  }
  const int64_t live_rows = rows < kMR ? rows : kMR;
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r) {
    if (r >= live_rows) break;
    float* row = c + r * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < kNV; ++v) {
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask[v], row + 16 * v));
      _mm512_mask_storeu_ps(row + 16 * v, mask[v], out);
    }
  }
}

}  // namespace busi::cpu::avx512_tile
