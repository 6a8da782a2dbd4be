// CPU reference kernels for matmul and linear (see matmul.h): each is one or two GEMM calls.
#include "kernels/cpu/matmul.h"

#include "kernels/cpu/gemm.h"

namespace busi::cpu {

template <typename T>
void matmul_forward(const T* A, const T* B, T* C, int64_t M, int64_t K, int64_t N) {
  gemm<T>(false, false, M, N, K, T(1), A, K, B, N, T(0), C, N);
}

template <typename T>
void matmul_backward(const T* A, const T* B, const T* dC, T* dA, T* dB, int64_t M, int64_t K,
                     int64_t N) {
  if (dA) gemm<T>(false, true, M, K, N, T(1), dC, N, B, N, T(0), dA, K);  // dC (M,N) B^T (N,K)
  if (dB) gemm<T>(true, false, K, N, M, T(1), A, K, dC, N, T(0), dB, N);  // A^T (K,M) dC (M,N)
}

template <typename T>
void linear_forward(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out) {
  gemm<T>(false, true, N, out, in, T(1), x, in, W, in, T(0), y, out);  // x (N,in) W^T (in,out)
  if (!b) return;
#pragma omp parallel for schedule(static) if (N * out > 32768)
  for (int64_t i = 0; i < N; ++i)
    for (int64_t o = 0; o < out; ++o) y[i * out + o] += b[o];
}

template <typename T>
void linear_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, int64_t N,
                     int64_t in, int64_t out) {
  if (dx) gemm<T>(false, false, N, in, out, T(1), dy, out, W, in, T(0), dx, in);
  if (dW) gemm<T>(true, false, out, in, N, T(1), dy, out, x, in, T(0), dW, in);
  if (db) {
    for (int64_t o = 0; o < out; ++o) db[o] = T(0);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t o = 0; o < out; ++o) db[o] += dy[i * out + o];
  }
}

#define BUSI_INSTANTIATE(T)                                                                     \
  template void matmul_forward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);           \
  template void matmul_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t,      \
                                   int64_t);                                                    \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t,  \
                                   int64_t);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
