// The FMA peak loop (see peak_fma.h). 16 independent accumulators: with an FMA latency of 4
// cycles and two FMA pipes, 8 chains in flight already saturate them; 16 leave a margin on
// cores with longer latency or more pipes. Compiled with function attributes, like the GEMM's
// micro-kernels (gemm_avx512.cpp), and only run when cpu_kernels_supported() says so.
#include "kernels/cpu/peak_fma.h"

#include <immintrin.h>
#include <omp.h>

#include <chrono>

#include "kernels/cpu/cpu_kernels.h"

namespace busi::cpu {

namespace {

constexpr int kChains = 16;
constexpr int64_t kRepeats = 1 << 16;  // FMAs per chain between two looks at the clock

// Each loop stores a value that depends on every FMA through a volatile pointer: the compiler can
// neither drop the FMAs nor move them across the clock readings around the call (a loop on
// registers alone could legally be scheduled after the second reading).
__attribute__((target("avx512f"), noinline)) void fma_loop_512(int64_t rounds,
                                                               volatile float* out) {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t r = 0; r < rounds * kRepeats; ++r)
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm512_add_ps(total, acc[i]);
  float lanes[16];  // (not _mm512_reduce_add_ps: GCC 12 warns inside it)
  _mm512_storeu_ps(lanes, total);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  *out = sum;
}

__attribute__((target("avx2,fma"), noinline)) void fma_loop_256(int64_t rounds,
                                                                volatile float* out) {
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (int64_t r = 0; r < rounds * kRepeats; ++r)
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm256_add_ps(total, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, total);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  *out = sum;
}

__attribute__((target("avx512f,avx512bw,avx512bf16"), noinline)) void dpbf16_loop(
    int64_t rounds, volatile float* out) {
  __m512 acc[kChains];
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3F7F3F7F);  // bf16 pairs (0.996, 0.996)
  const __m512bh b = (__m512bh)_mm512_set1_epi32(0x33D633D6);  // (1e-7, 1e-7)
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t r = 0; r < rounds * kRepeats; ++r)
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm512_add_ps(total, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, total);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  *out = sum;
}

// GFLOP/s of `loop` on `threads` threads, `flops_per_step` FLOPs per chain step of each.
template <typename Loop>
double measure_loop(Loop loop, double flops_per_step, int threads, double seconds) {
  auto run = [&](int64_t rounds) {
    volatile float sink = 0.0f;
    loop(rounds, &sink);
  };
  // Calibrate on one thread: rounds for about `seconds`.
  int64_t rounds = 1;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    run(rounds);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (took > seconds / 4 || rounds > (int64_t{1} << 20)) {
      rounds = static_cast<int64_t>(rounds * seconds / (took > 0 ? took : 1e-9)) + 1;
      break;
    }
    rounds *= 4;
  }
  double slowest = 0.0;  // the threads run together; the last to finish sets the rate
#pragma omp parallel num_threads(threads) reduction(max : slowest)
  {
    const auto start = std::chrono::steady_clock::now();
    run(rounds);
    slowest = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double flops = flops_per_step * kChains * static_cast<double>(rounds * kRepeats) * threads;
  return flops / slowest * 1e-9;
}

}  // namespace

double measure_peak_fma(FmaWidth width, int threads, double seconds) {
  const bool wide = width == FmaWidth::bits512;
  if (!cpu_kernels_supported(wide ? CpuKernels::avx512 : CpuKernels::avx2)) return 0.0;
  const int lanes = wide ? 16 : 8;
  return measure_loop(wide ? fma_loop_512 : fma_loop_256, 2.0 * lanes, threads, seconds);
}

double measure_peak_dpbf16(int threads, double seconds) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512bf16")))
    return 0.0;
  return measure_loop(dpbf16_loop, 2.0 * 2 * 16, threads, seconds);
#else
  (void)threads;
  (void)seconds;
  return 0.0;
#endif
}

}  // namespace busi::cpu
