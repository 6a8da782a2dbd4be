// CUDA kernels for matmul and linear; twins of kernels/cpu/matmul.h on float device pointers
// (GEMMs through kernels/cuda/gemm.h: cuBLAS, or the hand-written SGEMM when selected).
#pragma once

#include <cstdint>

namespace busi::cuda {

void matmul_forward(const float* A, const float* B, float* C, int64_t M, int64_t K, int64_t N);
void matmul_backward(const float* A, const float* B, const float* dC, float* dA, float* dB,
                     int64_t M, int64_t K, int64_t N);
void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out);
void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW,
                     float* db, int64_t N, int64_t in, int64_t out);

}  // namespace busi::cuda
