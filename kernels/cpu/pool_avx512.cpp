// The AVX-512 row of the 2x2 max-pool gradient (pool.cpp's fast path), 16 windows per step.
// GCC does not vectorise the portable loop: each window writes four gradients to two interleaved
// positions of two rows. Here the even and odd columns are split with one permute per vector,
// the first-maximum rule is evaluated on whole vectors with mask registers, and the four
// gradients are interleaved back with two more permutes per row. Compiled with a function
// attribute (as gemm_avx512.cpp): it runs only once cpu_kernels.h has found AVX-512 F.
#include <immintrin.h>

#include <cstdint>

namespace busi::cpu {

#define BUSI_AVX512 __attribute__((target("avx512f")))

// Windows [0, 16 floor(Wo / 16)) of one output row: r0, r1 the window's two input rows (2 Wo
// values each), g the row's output gradient (Wo), d0, d1 the two input-gradient rows. The same
// rule as the portable loop (pool_window.h: the first maximum in row-major order, strict >, so a
// comparison with NaN is false and the earlier element keeps the gradient):
//   beat_b = b > a, beat_c = c > max(a, b), beat_d = d > max(a, b, c) (each "max" the running
//   first maximum); the gradient goes to d if beat_d, else c if beat_c, else b if beat_b, else a.
// Returns how many windows it did; the caller does the rest.
BUSI_AVX512 int64_t max_pool_2x2_backward_row_avx512(const float* r0, const float* r1,
                                                     const float* g, float* d0, float* d1,
                                                     int64_t Wo) {
  // Lane l of a 32-float pair (lo, hi) is lo[l] for l < 16, hi[l - 16] otherwise.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // (first, second) interleaved: windows 0..7, then 8..15.
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  int64_t j = 0;
  for (; j + 16 <= Wo; j += 16) {
    const __m512 top_lo = _mm512_loadu_ps(r0 + 2 * j), top_hi = _mm512_loadu_ps(r0 + 2 * j + 16);
    const __m512 bot_lo = _mm512_loadu_ps(r1 + 2 * j), bot_hi = _mm512_loadu_ps(r1 + 2 * j + 16);
    const __m512 a = _mm512_permutex2var_ps(top_lo, even, top_hi);  // (16) window top-left
    const __m512 b = _mm512_permutex2var_ps(top_lo, odd, top_hi);   // top-right
    const __m512 c = _mm512_permutex2var_ps(bot_lo, even, bot_hi);  // bottom-left
    const __m512 d = _mm512_permutex2var_ps(bot_lo, odd, bot_hi);   // bottom-right
    const __mmask16 beat_b = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
    const __m512 upto_b = _mm512_mask_mov_ps(a, beat_b, b);
    const __mmask16 beat_c = _mm512_cmp_ps_mask(c, upto_b, _CMP_GT_OQ);
    const __m512 upto_c = _mm512_mask_mov_ps(upto_b, beat_c, c);
    const __mmask16 beat_d = _mm512_cmp_ps_mask(d, upto_c, _CMP_GT_OQ);
    const __mmask16 later_c = beat_c | beat_d;
    const __m512 grad = _mm512_loadu_ps(g + j);
    const __m512 ga = _mm512_maskz_mov_ps(static_cast<__mmask16>(~(beat_b | later_c)), grad);
    const __m512 gb = _mm512_maskz_mov_ps(static_cast<__mmask16>(beat_b & ~later_c), grad);
    const __m512 gc = _mm512_maskz_mov_ps(static_cast<__mmask16>(beat_c & ~beat_d), grad);
    const __m512 gd = _mm512_maskz_mov_ps(beat_d, grad);
    _mm512_storeu_ps(d0 + 2 * j, _mm512_permutex2var_ps(ga, low, gb));
    _mm512_storeu_ps(d0 + 2 * j + 16, _mm512_permutex2var_ps(ga, high, gb));
    _mm512_storeu_ps(d1 + 2 * j, _mm512_permutex2var_ps(gc, low, gd));
    _mm512_storeu_ps(d1 + 2 * j + 16, _mm512_permutex2var_ps(gc, high, gd));
  }
  return j;
}

#undef BUSI_AVX512

}  // namespace busi::cpu
