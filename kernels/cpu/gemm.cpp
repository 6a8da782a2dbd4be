// The CPU GEMM: the blocked driver (gemm_blocked.h) over packed copies of the two matrices, with
// the micro-kernel of the vector variant chosen at run time (cpu_kernels.h) for float and the
// portable one for double; and the naive triple loop every variant is tested against. In BF16
// mode (kernels/common/precision.h) the float GEMM rounds its operands to bf16 (gemm_bf16.h).
#include "kernels/cpu/gemm.h"

#include "kernels/cpu/gemm_bf16_blocked.h"

namespace busi::cpu {

namespace {

// The portable tile: 6 x 16, acc in registers across the whole K slice. The fixed sizes let the
// compiler keep acc in registers and vectorise the inner loop over NR for whatever vector unit it
// builds for (SSE2 without BUSI_NATIVE).
constexpr int64_t kMR = 6, kNR = 16;

template <typename T>
void portable_kernel(int64_t kc, const T* a_panel, const T* b_panel, T* c, int64_t ldc,
                     int64_t rows, int64_t cols, T alpha, bool accumulate) {
  T acc[kMR][kNR];
  for (int64_t r = 0; r < kMR; ++r)
    for (int64_t j = 0; j < kNR; ++j) acc[r][j] = T(0);
  for (int64_t k = 0; k < kc; ++k) {
    const T* a = a_panel + k * kMR;
    const T* b = b_panel + k * kNR;
    for (int64_t r = 0; r < kMR; ++r) {
      const T ar = a[r];
#pragma omp simd
      for (int64_t j = 0; j < kNR; ++j) acc[r][j] += ar * b[j];
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + alpha * acc[r][j] : alpha * acc[r][j];
}

// Element (i, k) of op(A), element (k, j) of op(B).
template <typename T>
inline T a_at(const T* A, int64_t lda, bool trans, int64_t i, int64_t k) {
  return trans ? A[k * lda + i] : A[i * lda + k];
}
template <typename T>
inline T b_at(const T* B, int64_t ldb, bool trans, int64_t k, int64_t j) {
  return trans ? B[j * ldb + k] : B[k * ldb + j];
}

}  // namespace

template <typename T>
MicroKernel<T> portable_micro_kernel() {
  // kc 256: an A panel (6 x 256) and a B panel (256 x 16) stay in L1; mc 120 rows of A and nc 768
  // columns of B (for floats 120 and 768 KiB) share a 1 MiB L2.
  return MicroKernel<T>{portable_kernel<T>, kMR, kNR, 256, 768, 120, "portable 6x16"};
}

template <>
MicroKernel<float> micro_kernel_for<float>() {
  switch (active_cpu_kernels()) {
    case CpuKernels::avx512:
      return avx512_micro_kernel();
    case CpuKernels::avx2:
      return avx2_micro_kernel();
    case CpuKernels::portable:
      break;
  }
  return portable_micro_kernel<float>();
}
template <>
MicroKernel<double> micro_kernel_for<double>() {
  return portable_micro_kernel<double>();
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const MicroKernel<T> mk = micro_kernel_for<T>();
  gemm_blocked_in_mode(mk, M, N, K, alpha, MatrixPackA<T>{A, lda, M, trans_a, mk.mr},
                       MatrixPackB<T>{B, ldb, N, trans_b, mk.nr}, beta, C, ldc);
}

template <typename T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T total = T(0);
      for (int64_t k = 0; k < K; ++k)
        total += a_at(A, lda, trans_a, i, k) * b_at(B, ldb, trans_b, k, j);
      C[i * ldc + j] = alpha * total + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

#define BUSI_INSTANTIATE(T)                                                                    \
  template MicroKernel<T> portable_micro_kernel<T>();                                          \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, \
                        int64_t, T, T*, int64_t);                                              \
  template void gemm_naive<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,     \
                              const T*, int64_t, T, T*, int64_t);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
