// Cache-blocked CPU GEMM (the Goto/BLIS scheme, written plainly):
//   for each KC-deep slice of K:            pack A[:, slice] into MR-row panels (fits L2)
//     for each NC-wide block of columns:    pack B[slice, block] into NR-column panels
//       for every (MR x NR) tile, in parallel: C_tile += A_panel * B_panel   (in registers)
// Packing makes the micro-kernel read both operands sequentially, whatever the transposes,
// and the MR x NR accumulator stays in vector registers across the whole K slice.
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <vector>

namespace busi::cpu {

namespace {

constexpr int64_t MR = 6;     // rows of a register tile
constexpr int64_t NR = 16;    // columns of a register tile (two AVX2 float vectors)
constexpr int64_t KC = 256;   // depth of a packed slice: an A panel (MR x KC) stays in L1
constexpr int64_t NC = 1024;  // columns of a packed B block

// Element (i, k) of op(A), element (k, j) of op(B).
template <typename T>
inline T a_at(const T* A, int64_t lda, bool trans, int64_t i, int64_t k) {
  return trans ? A[k * lda + i] : A[i * lda + k];
}
template <typename T>
inline T b_at(const T* B, int64_t ldb, bool trans, int64_t k, int64_t j) {
  return trans ? B[j * ldb + k] : B[k * ldb + j];
}

// Packs rows [0, M) x depth [k0, k0+kc) of op(A) into panels of MR rows: panel p holds, for each
// k, the MR values A[p*MR + r][k] side by side (zero-padded past M).
template <typename T>
void pack_a(const T* A, int64_t lda, bool trans, int64_t M, int64_t k0, int64_t kc, T* packed) {
  const int64_t panels = (M + MR - 1) / MR;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < panels; ++p) {
    T* dst = packed + p * MR * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = 0; r < MR; ++r) {
        const int64_t i = p * MR + r;
        dst[k * MR + r] = i < M ? a_at(A, lda, trans, i, k0 + k) : T(0);
      }
  }
}

// Packs depth [k0, k0+kc) x columns [j0, j0+nc) of op(B) into panels of NR columns.
template <typename T>
void pack_b(const T* B, int64_t ldb, bool trans, int64_t N, int64_t k0, int64_t kc, int64_t j0,
            int64_t nc, T* packed) {
  const int64_t panels = (nc + NR - 1) / NR;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < panels; ++p) {
    T* dst = packed + p * NR * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t c = 0; c < NR; ++c) {
        const int64_t j = j0 + p * NR + c;
        dst[k * NR + c] = j < N ? b_at(B, ldb, trans, k0 + k, j) : T(0);
      }
  }
}

// acc (MR x NR) = sum over k of a_panel[k][:] (outer product) b_panel[k][:]. The fixed sizes let
// the compiler keep acc in registers and vectorise the inner loop over NR.
template <typename T>
inline void micro_kernel(int64_t kc, const T* a_panel, const T* b_panel, T acc[MR][NR]) {
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t c = 0; c < NR; ++c) acc[r][c] = T(0);
  for (int64_t k = 0; k < kc; ++k) {
    const T* a = a_panel + k * MR;
    const T* b = b_panel + k * NR;
    for (int64_t r = 0; r < MR; ++r) {
      const T ar = a[r];
#pragma omp simd
      for (int64_t c = 0; c < NR; ++c) acc[r][c] += ar * b[c];
    }
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
#pragma omp parallel for schedule(static)
  // C = beta C first (beta = 0 overwrites, so stale NaNs in C never leak into the result).
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
  if (K <= 0 || alpha == T(0)) return;

  const int64_t m_panels = (M + MR - 1) / MR;
  std::vector<T> a_packed(m_panels * MR * KC);
  std::vector<T> b_packed(((NC + NR - 1) / NR) * NR * KC);

  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    pack_a(A, lda, trans_a, M, k0, kc, a_packed.data());
    for (int64_t j0 = 0; j0 < N; j0 += NC) {
      const int64_t nc = std::min(NC, N - j0);
      const int64_t n_panels = (nc + NR - 1) / NR;
      pack_b(B, ldb, trans_b, N, k0, kc, j0, nc, b_packed.data());
      // Tiles ordered with the row panel varying fastest: consecutive tiles of a thread reuse
      // one B panel from L1 while the packed A slice streams from L2.
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < n_panels * m_panels; ++t) {
        const int64_t jp = t / m_panels, ip = t % m_panels;
        T acc[MR][NR];
        micro_kernel(kc, a_packed.data() + ip * MR * kc, b_packed.data() + jp * NR * kc, acc);
        const int64_t rows = std::min(MR, M - ip * MR);
        const int64_t cols = std::min(NR, nc - jp * NR);
        for (int64_t r = 0; r < rows; ++r) {
          T* c_row = C + (ip * MR + r) * ldc + j0 + jp * NR;
          for (int64_t c = 0; c < cols; ++c) c_row[c] += alpha * acc[r][c];
        }
      }
    }
  }
}

template <typename T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T total = T(0);
      for (int64_t k = 0; k < K; ++k)
        total += a_at(A, lda, trans_a, i, k) * b_at(B, ldb, trans_b, k, j);
      C[i * ldc + j] = alpha * total + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

#define BUSI_INSTANTIATE(T)                                                                    \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, \
                        int64_t, T, T*, int64_t);                                              \
  template void gemm_naive<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,     \
                              const T*, int64_t, T, T*, int64_t);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
