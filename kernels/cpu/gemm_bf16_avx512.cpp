// The AVX512-BF16 micro-kernel of the bf16 GEMM (the pair layout is in gemm_bf16_blocked.h, the
// contract in gemm_microkernel.h). Compiled with function attributes, as gemm_avx512.cpp, so the
// rest of the build does not need the ISA; it runs only once gemm_bf16.cpp has found AVX-512 BF16.
//
// Tile 8 x 48, as the AVX-512 float kernel (the float packers are shared): 24 accumulators of 16
// floats. Per pair of k: three loads of B (16 columns x 2 bf16 each), eight broadcasts of an A
// pair (32 bits) and 24 vdpbf16ps, each lane doing
//   acc += a[2t+1] b[2t+1];  acc += a[2t] b[2t]     (FP32, round to nearest even)
// which is twice the multiply-adds of an FP32 FMA per instruction.
#include <immintrin.h>

#include "kernels/cpu/gemm_avx512_tile.h"
#include "kernels/cpu/gemm_bf16_blocked.h"

namespace busi::cpu {

namespace {

constexpr int kMR = avx512_tile::kMR;
constexpr int kNV = avx512_tile::kNV;  // vectors of 16 columns per row: NR = 48
constexpr int kNR = 16 * kNV;

#define BUSI_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

BUSI_AVX512BF16 void kernel_8x48(int64_t kc, const float* a_words, const float* b_words, float* c,
                                 int64_t ldc, int64_t rows, int64_t cols, float alpha,
                                 bool accumulate) {
  const int* a = reinterpret_cast<const int*>(a_words);  // (ceil(kc / 2), 8) pairs
  const int* b = reinterpret_cast<const int*>(b_words);  // (ceil(kc / 2), 48) pairs
  __m512 acc[kMR][kNV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_setzero_ps();
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t t = 0; t < pairs; ++t, a += kMR, b += kNR) {
    __m512bh bv[kNV];
#pragma GCC unroll 3
    for (int v = 0; v < kNV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(a[r]);
#pragma GCC unroll 3
      for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, bv[v]);
    }
  }
  avx512_tile::store_8x48(acc, c, ldc, rows, cols, alpha, accumulate);
}

#undef BUSI_AVX512BF16

}  // namespace

MicroKernel<float> avx512bf16_micro_kernel() {
  // Blocking as the float kernel's (the caller copies it from there): a pair panel takes half the
  // bytes of a float panel of the same depth, so those sizes leave room in L1 and L2.
  return MicroKernel<float>{kernel_8x48, kMR, kNR, 128, 960, 144, "avx512bf16 8x48"};
}

}  // namespace busi::cpu
