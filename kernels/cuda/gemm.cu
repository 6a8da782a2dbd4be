// CUDA matrix multiply, twin of kernels/cpu/gemm.cpp: C = alpha op(A) op(B) + beta C, row-major.
// Two implementations behind one entry point (selected by BUSI_GEMM / set_gemm_backend):
//   - cuBLAS (gemm_cublas.cu; the default on a GPU);
//   - the hand-written tiled SGEMM of tiled_gemm.cuh (here: 128 x 128 tiles, 8 x 8 per thread,
//     double-buffered shared memory, split-K for thin products), for students, the benchmark and
//     the emulated device (which has no cuBLAS).
// The hand-written kernel is plain FP32 (FMA) whatever the TF32 switch says; in BF16 mode
// (kernels/common/precision.h) it rounds its operands to bf16 as it loads them (tiled_gemm.h).
#include <cuda_runtime.h>

#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/tiled_gemm.h"

namespace busi::cuda {

namespace {

// Element (m, k) of op(A) and (k, n) of op(B), from row-major storage with leading dimensions.
template <bool kTransA, bool kTransB>
struct SgemmOperands {
  int M, N, K;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  // Without a transpose A is stored (M, K): neighbours along k; transposed it is (K, M).
  static constexpr bool kAAlongK = !kTransA;
  static constexpr bool kBAlongN = !kTransB;
  __device__ float a(int m, int k) const {
    return kTransA ? A[int64_t(k) * lda + m] : A[int64_t(m) * lda + k];
  }
  __device__ float b(int k, int n) const {
    return kTransB ? B[int64_t(n) * ldb + k] : B[int64_t(k) * ldb + n];
  }
};

// C = alpha value + beta C, with beta = 0 overwriting (stale NaNs in C never leak, as on the CPU).
struct AlphaBetaStore {
  float* C;
  int64_t ldc;
  float alpha, beta;
  __device__ void store(int m, int n, int, float value) const {
    float* c = C + int64_t(m) * ldc + n;
    *c = beta == 0.0f ? alpha * value : alpha * value + beta * *c;
  }
};

template <bool kTransA, bool kTransB>
void tiled_sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // The kernel indexes in 32 bits: check the sizes before they are narrowed, not after.
  tiled::launch_shape("gemm (hand-written)", M, N, K, true);
  const SgemmOperands<kTransA, kTransB> operands{
      static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A, lda, B, ldb};
  tiled::run_tiled_gemm("gemm (hand-written)", operands, AlphaBetaStore{C, ldc, alpha, beta}, true);
}

// C = beta C over an M x N matrix with row stride ldc (the whole GEMM when K = 0 or alpha = 0).
__global__ void scale_matrix_kernel(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = global_thread_index(); i < M * N; i += grid_thread_count()) {
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.0f ? 0.0f : beta * *c;
  }
}

}  // namespace

namespace detail {

void check_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                     int64_t ldb, int64_t ldc) {
  BUSI_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=", M, " N=", N, " K=", K);
  // Row strides at least as long as the stored rows. A matrix with no elements is never touched,
  // so its stride is not checked: matmul passes a packed (M, 0) operand with stride 0, which the
  // CPU twin accepts (empty products never reach cuBLAS, which would refuse it).
  const bool a_empty = M == 0 || K == 0, b_empty = K == 0 || N == 0, c_empty = M == 0 || N == 0;
  BUSI_CHECK((a_empty || lda >= (trans_a ? M : K)) && (b_empty || ldb >= (trans_b ? K : N)) &&
                 (c_empty || ldc >= N),
             "gemm: leading dimensions lda=", lda, " ldb=", ldb, " ldc=", ldc,
             " too small for M=", M, " N=", N, " K=", K);
}

void scale_matrix(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  BUSI_LAUNCH(scale_matrix_kernel, grid_for(M * N), kThreads, 0, M, N, beta, C, ldc);
}

}  // namespace detail

using detail::check_gemm_args;
using detail::scale_matrix;

void gemm_handwritten(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc) {
  check_gemm_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    scale_matrix(M, N, beta, C, ldc);
    return;
  }
  if (!trans_a && !trans_b) tiled_sgemm<false, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (!trans_a && trans_b) tiled_sgemm<false, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (trans_a && !trans_b) tiled_sgemm<true, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (trans_a && trans_b) tiled_sgemm<true, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (gemm_backend() == GemmBackend::Handwritten)
    gemm_handwritten(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_cublas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace busi::cuda
