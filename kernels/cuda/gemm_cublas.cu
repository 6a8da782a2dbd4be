// cuBLAS behind cuda::gemm (gemm.cu), twin of kernels/cpu/gemm.cpp. Real GPUs only: a
// -DBUSI_CUDA=EMULATE build leaves this file out (cuBLAS cannot run on the emulated device).
// cuBLAS is column-major, and a row-major matrix read as column-major is its transpose, so
// row-major C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T: the operands are
// swapped and M, N exchanged, with no copy.
// BF16 mode (kernels/common/precision.h): both operands converted to bf16 copies (round to
// nearest even, kernels/common/bf16.h) and multiplied by cublasGemmEx with FP32 C and FP32
// compute (CUBLAS_COMPUTE_32F: bf16 tensor cores, FP32 accumulation). Never run on a real GPU yet.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/common/bf16.h"
#include "kernels/common/precision.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/runtime/allocator.h"

#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"

namespace busi::cuda {

using detail::check_gemm_args;
using detail::scale_matrix;

namespace {

// out[i] = bf16(in[i]) for i < n: a stored matrix of `rows` rows of stride ld, converted whole
// with the same stride (n = (rows - 1) ld + row length; the gaps between rows come along).
__global__ void float_to_bf16_kernel(int64_t n, const float* in, bf16_bits* out) {
  for (int64_t i = global_thread_index(); i < n; i += grid_thread_count())
    out[i] = float_to_bf16(in[i]);
}

// A bf16 copy of a stored row-major matrix (rows, cols) with row stride ld, same stride.
DeviceBuffer to_bf16(const float* x, int64_t rows, int64_t cols, int64_t ld) {
  const int64_t n = (rows - 1) * ld + cols;
  DeviceBuffer out(static_cast<size_t>(n) * sizeof(bf16_bits));
  BUSI_LAUNCH(float_to_bf16_kernel, grid_for(n), kThreads, 0, n, x, out.as<bf16_bits>());
  return out;
}

// The bf16 product: column-major C^T (N x M) = op(B)^T op(A)^T as below, operands bf16.
void gemm_cublas_bf16(cublasHandle_t handle, cublasOperation_t op_a, cublasOperation_t op_b,
                      int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Stored shapes: A (M, K) or, transposed, (K, M); B (K, N) or (N, K).
  const bool trans_a = op_a == CUBLAS_OP_T, trans_b = op_b == CUBLAS_OP_T;
  const DeviceBuffer a16 = to_bf16(A, trans_a ? K : M, trans_a ? M : K, lda);
  const DeviceBuffer b16 = to_bf16(B, trans_b ? N : K, trans_b ? K : N, ldb);
  CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  CUBLAS_CHECK(cublasGemmEx_64(handle, op_b, op_a, N, M, K, &alpha, b16.get(), CUDA_R_16BF, ldb,
                               a16.get(), CUDA_R_16BF, lda, &beta, C, CUDA_R_32F, ldc,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace

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
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (bf16_gemms()) {
    gemm_cublas_bf16(handle, op_a, op_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // TF32 tensor cores when allowed; otherwise cuBLAS's default math, which is plain FP32.
  CUBLAS_CHECK(
      cublasSetMathMode(handle, tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  // Column-major C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M). The 64-bit API takes any size.
  CUBLAS_CHECK(cublasSgemm_64(handle, op_b, op_a, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace busi::cuda
