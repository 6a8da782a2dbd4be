// The two GEMMs behind cuda::gemm (gemm.h), callable directly so tests and the benchmark can
// compare them whatever BUSI_GEMM says. Same contract as cuda::gemm: row-major
// C = alpha op(A) op(B) + beta C on device pointers, queued on the compute stream.
#pragma once

#include <cstdint>

namespace busi::cuda {

void gemm_cublas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc);
void gemm_handwritten(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc);

namespace detail {
// What both GEMMs share (gemm.cu): the argument checks of the CPU twin, and C = beta C (the whole
// product when K = 0), queued on the compute stream.
void check_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                     int64_t ldb, int64_t ldc);
void scale_matrix(int64_t M, int64_t N, float beta, float* C, int64_t ldc);
}  // namespace detail

}  // namespace busi::cuda
