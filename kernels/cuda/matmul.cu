// CUDA matmul and linear, twins of kernels/cpu/matmul.cpp: each product is one cuda::gemm call
// (cuBLAS or the hand-written SGEMM), the bias a broadcast kernel, its gradient a deterministic
// column sum.
#include <cuda_runtime.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/reduce.h"

namespace busi::cuda {

namespace {

// y (N, out) += b (out) broadcast over the rows.
__global__ void add_row_bias_kernel(int64_t rows, int64_t cols, const float* b, float* y) {
  for (int64_t i = global_thread_index(); i < rows * cols; i += grid_thread_count())
    y[i] += b[i % cols];
}

}  // namespace

// C (M, N) = A (M, K) B (K, N)
void matmul_forward(const float* A, const float* B, float* C, int64_t M, int64_t K, int64_t N) {
  gemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
}

// dA = dC B^T (M, K); dB = A^T dC (K, N)
void matmul_backward(const float* A, const float* B, const float* dC, float* dA, float* dB,
                     int64_t M, int64_t K, int64_t N) {
  if (dA) gemm(false, true, M, K, N, 1.0f, dC, N, B, N, 0.0f, dA, K);
  if (dB) gemm(true, false, K, N, M, 1.0f, A, K, dC, N, 0.0f, dB, N);
}

// y (N, out) = x (N, in) W^T + b
void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out) {
  gemm(false, true, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
  if (!b || N * out == 0) return;
  BUSI_LAUNCH(add_row_bias_kernel, grid_for(N * out), kThreads, 0, N, out, b, y);
}

// dx = dy W (N, in); dW = dy^T x (out, in); db = column sums of dy (out): dy (N, out) seen as
// (N, C = out, HW = 1) for channel_sums.
void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW,
                     float* db, int64_t N, int64_t in, int64_t out) {
  if (dx) gemm(false, false, N, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
  if (dW) gemm(true, false, out, in, N, 1.0f, dy, out, x, in, 0.0f, dW, in);
  if (db) channel_sums(N, out, 1, dy, db);
}

}  // namespace busi::cuda
