// CPU matrix multiply, the workhorse of linear layers and (through im2col) convolutions:
// C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T. A cache-blocked version
// (packing + register micro-kernel + OpenMP) and the naive triple loop it is tested against.
#pragma once

#include <cstdint>

namespace busi::cpu {

// op(A) is M x K, op(B) is K x N, C is M x N. lda/ldb/ldc are row strides of the stored
// matrices (for a transposed A, the stored matrix is K x M and lda >= M).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The textbook triple loop, kept as the reference for tests and benchmarks.
template <typename T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace busi::cpu
