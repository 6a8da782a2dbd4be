// The bf16 GEMM's entry points (gemm_bf16.h): the choice of micro-kernel, the portable kernel
// (any CPU; the reference the AVX512-BF16 one is tested against, bit for bit), the whole-matrix
// product on the blocked driver, and the naive loop.
#include "kernels/cpu/gemm_bf16.h"

#include <atomic>

#include "kernels/common/error.h"
#include "kernels/cpu/gemm_bf16_blocked.h"

namespace busi::cpu {

namespace {

// The portable pair kernel for an MR x NR tile. Per pair t of the depth, as vdpbf16ps does:
//   acc += a[2t+1] b[2t+1];  acc += a[2t] b[2t]
// (odd element first). A product of two bf16 values has at most 16 significant bits, so it is
// exact in FP32: each step rounds once, at the add, whether or not the compiler fuses it.
// (vdpbf16ps also flushes subnormal inputs and outputs to zero; this kernel keeps them, so the
// two differ only where a value falls below 2^-126.)
template <int64_t MR, int64_t NR>
void portable_pair_kernel(int64_t kc, const float* a_words, const float* b_words, float* c,
                          int64_t ldc, int64_t rows, int64_t cols, float alpha, bool accumulate) {
  const uint32_t* a = reinterpret_cast<const uint32_t*>(a_words);  // (ceil(kc / 2), MR) pairs
  const uint32_t* b = reinterpret_cast<const uint32_t*>(b_words);  // (ceil(kc / 2), NR) pairs
  float acc[MR][NR] = {};
  for (int64_t t = 0; t < (kc + 1) / 2; ++t, a += MR, b += NR) {
    float b_even[NR], b_odd[NR];
    for (int64_t j = 0; j < NR; ++j) {
      b_even[j] = bf16_to_float(static_cast<bf16_bits>(b[j] & 0xFFFFu));
      b_odd[j] = bf16_to_float(static_cast<bf16_bits>(b[j] >> 16));
    }
    for (int64_t r = 0; r < MR; ++r) {
      const float a_even = bf16_to_float(static_cast<bf16_bits>(a[r] & 0xFFFFu));
      const float a_odd = bf16_to_float(static_cast<bf16_bits>(a[r] >> 16));
      for (int64_t j = 0; j < NR; ++j) {
        acc[r][j] += a_odd * b_odd[j];
        acc[r][j] += a_even * b_even[j];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + alpha * acc[r][j] : alpha * acc[r][j];
}

// -1: not decided yet; otherwise a Bf16Kernel value.
std::atomic<int> g_bf16_kernel{-1};

}  // namespace

const char* bf16_kernel_name(Bf16Kernel kernel) {
  return kernel == Bf16Kernel::avx512bf16 ? "avx512bf16" : "portable";
}

bool bf16_kernel_supported(Bf16Kernel kernel) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kernel == Bf16Kernel::avx512bf16)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
  return true;
#else
  return kernel == Bf16Kernel::portable;
#endif
}

Bf16Kernel active_bf16_kernel() {
  int active = g_bf16_kernel.load(std::memory_order_relaxed);
  if (active < 0) {
    active = static_cast<int>(bf16_kernel_supported(Bf16Kernel::avx512bf16) ? Bf16Kernel::avx512bf16
                                                                            : Bf16Kernel::portable);
    g_bf16_kernel.store(active, std::memory_order_relaxed);
  }
  return static_cast<Bf16Kernel>(active);
}

bool set_bf16_kernel(Bf16Kernel kernel) {
  if (!bf16_kernel_supported(kernel)) return false;
  g_bf16_kernel.store(static_cast<int>(kernel), std::memory_order_relaxed);
  return true;
}

std::string bf16_cpu_support() {
  if (bf16_kernel_supported(Bf16Kernel::avx512bf16))
    return "CPU has AVX512-BF16 (vdpbf16ps): bf16 products run natively";
  return "CPU lacks AVX512-BF16: bf16 products would run on the portable kernel (FP32 "
         "arithmetic on rounded operands), no faster than FP32";
}

MicroKernel<float> bf16_micro_kernel_for(const MicroKernel<float>& float_kernel) {
  MicroKernel<float> mk = float_kernel;  // same tile and blocking: the packers were built for it
  if (mk.mr == 8 && mk.nr == 48) {
    if (active_bf16_kernel() == Bf16Kernel::avx512bf16) {
      const MicroKernel<float> fast = avx512bf16_micro_kernel();
      mk.run = fast.run;
      mk.name = fast.name;
      return mk;
    }
    mk.run = portable_pair_kernel<8, 48>;
    mk.name = "bf16 portable 8x48";
    return mk;
  }
  BUSI_CHECK(mk.mr == 6 && mk.nr == 16, "bf16 gemm: no pair kernel for the ", mk.mr, "x", mk.nr,
             " tile of ", mk.name);
  mk.run = portable_pair_kernel<6, 16>;
  mk.name = "bf16 portable 6x16";
  return mk;
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc) {
  const MicroKernel<float> mk = micro_kernel_for<float>();
  gemm_blocked_bf16(mk, M, N, K, alpha, MatrixPackA<float>{A, lda, M, trans_a, mk.mr},
                    MatrixPackB<float>{B, ldb, N, trans_b, mk.nr}, beta, C, ldc);
}

void gemm_bf16_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float total = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        total += round_to_bf16(a) * round_to_bf16(b);
      }
      C[i * ldc + j] = alpha * total + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
    }
}

}  // namespace busi::cpu
