// CUDA matrix multiply, twin of kernels/cpu/gemm.h: C = alpha op(A) op(B) + beta C, row-major.
// Runs cuBLAS by default; the hand-written tiled SGEMM (gemm.cu) when selected with
// BUSI_GEMM=handwritten (see kernels/cuda/runtime/backend_options.h).
#pragma once

#include <cstdint>

namespace busi::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace busi::cuda
