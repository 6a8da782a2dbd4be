// CPU reference kernels for matrix products: matmul and linear, forward and backward, built on
// the blocked GEMM (gemm.h). Templated on the scalar type (double in the gradient checks).
#pragma once

#include <cstdint>

namespace busi::cpu {

// C (M, N) = A (M, K) B (K, N)
template <typename T>
void matmul_forward(const T* A, const T* B, T* C, int64_t M, int64_t K, int64_t N);
// dA = dC B^T (M, K); dB = A^T dC (K, N). Either output may be null (not wanted).
template <typename T>
void matmul_backward(const T* A, const T* B, const T* dC, T* dA, T* dB, int64_t M, int64_t K,
                     int64_t N);

// y (N, out) = x (N, in) W^T + b, W (out, in) as stored by PyTorch, b (out) or null.
template <typename T>
void linear_forward(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out);
// dx = dy W (N, in); dW = dy^T x (out, in); db = sum over rows of dy (out).
// Outputs may be null (frozen parameter or no gradient wanted for x).
template <typename T>
void linear_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, int64_t N,
                     int64_t in, int64_t out);

}  // namespace busi::cpu
