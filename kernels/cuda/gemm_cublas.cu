// cuBLAS behind cuda::gemm (gemm.cu), twin of kernels/cpu/gemm.cpp. Real GPUs only: a
// -DBUSI_CUDA=EMULATE build leaves this file out (cuBLAS cannot run on the emulated device).
// cuBLAS is column-major, and a row-major matrix read as column-major is its transpose, so
// row-major C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T: the operands are
// swapped and M, N exchanged, with no copy.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"

namespace busi::cuda {

using detail::check_gemm_args;
using detail::scale_matrix;

void gemm_cublas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  check_gemm_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // C = beta C; cuBLAS would reject the stride 0 of a packed empty operand
    scale_matrix(M, N, beta, C, ldc);
    return;
  }
  cublasHandle_t handle = cublas_handle();
  // TF32 tensor cores when allowed; otherwise cuBLAS's default math, which is plain FP32.
  CUBLAS_CHECK(
      cublasSetMathMode(handle, tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Column-major C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M). The 64-bit API takes any size.
  CUBLAS_CHECK(cublasSgemm_64(handle, op_b, op_a, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace busi::cuda
