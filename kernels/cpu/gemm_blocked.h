// The blocked GEMM driver (the Goto/BLIS scheme, written plainly), with the packing of its
// operands left to the caller, so that a convolution can pack straight from the image (im2col
// fused into the packing: the column matrix is never written out) or hand over panels its
// transform already wrote in packed form (Winograd):
//   for each KC-deep slice of K:              pack A[:, slice] into MR-row panels (L2)
//     for each NC-wide block of columns:      pack B[slice, block] into NR-column panels (L2)
//       for every (MR x NR) tile, in parallel: C_tile (+)= alpha A_panel B_panel (registers)
// The layouts and the micro-kernel contract are in gemm_microkernel.h.
//
//   pack_a(i0, k0, kc, dst) -> const T*: the A panel of rows [i0, i0 + MR), depth [k0, k0 + kc)
//   pack_b(j0, k0, kc, dst) -> const T*: the B panel of columns [j0, j0 + NR), same depth
// Each writes its panel (kc, MR) or (kc, NR) into dst, zero-padded past the matrix, and returns
// dst, or returns a pointer to that panel where it already exists. They are called from several
// threads at once, for different panels.
//
// Threads: see gemm_blocked. Every C element is the sum over k in the same order whatever the
// thread count, so results do not depend on it.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "kernels/cpu/gemm_microkernel.h"

namespace busi::cpu {

// A grow-only scratch buffer, not initialised (packing writes every element it reads back).
template <typename T>
class Scratch {
 public:
  T* get(int64_t n) {
    if (n > size_) {
      data_.reset(new T[static_cast<size_t>(n)]);
      size_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  int64_t size_ = 0;
};

// C (M, N), row stride ldc: C = alpha op(A) op(B) + beta C on the calling thread alone.
template <typename T, typename PackA, typename PackB>
void gemm_blocked_serial(const MicroKernel<T>& mk, int64_t M, int64_t N, int64_t K, T alpha,
                         const PackA& pack_a, const PackB& pack_b, T beta, T* C, int64_t ldc) {
  if (K <= 0 || alpha == T(0)) {  // C = beta C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  if (beta != T(0) && beta != T(1)) {  // scale once, then every slice accumulates
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
  }
  const int64_t MR = mk.mr, NR = mk.nr, KC = mk.kc;
  const int64_t NC = std::max(NR, mk.nc / NR * NR);
  const int64_t MC = std::max(MR, mk.mc / MR * MR);
  const int64_t m_panels = (M + MR - 1) / MR;
  thread_local Scratch<T> a_scratch, b_scratch;
  T* a_buf = a_scratch.get(m_panels * MR * KC);            // (m_panels, KC, MR)
  T* b_buf = b_scratch.get((NC + NR - 1) / NR * NR * KC);  // (NC / NR, KC, NR)
  thread_local Scratch<const T*> a_index, b_index;
  const T** a_panels = a_index.get(m_panels);  // where each packed panel is
  const T** b_panels = b_index.get(NC / NR + 1);
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    const bool accumulate = k0 > 0 || beta != T(0);
    for (int64_t p = 0; p < m_panels; ++p)
      a_panels[p] = pack_a(p * MR, k0, kc, a_buf + p * MR * kc);
    for (int64_t j0 = 0; j0 < N; j0 += NC) {
      const int64_t nc = std::min(NC, N - j0);
      const int64_t n_panels = (nc + NR - 1) / NR;
      for (int64_t p = 0; p < n_panels; ++p)
        b_panels[p] = pack_b(j0 + p * NR, k0, kc, b_buf + p * NR * kc);
      // MC rows at a time, row panel varying fastest: consecutive tiles reuse one B panel from
      // L1 while the MC x kc block of packed A (sized for L2) streams past it.
      for (int64_t ip0 = 0; ip0 < m_panels; ip0 += MC / MR)
        for (int64_t jp = 0; jp < n_panels; ++jp)
          for (int64_t ip = ip0; ip < std::min(m_panels, ip0 + MC / MR); ++ip) {
            const int64_t i0 = ip * MR, j = j0 + jp * NR;
            mk.run(kc, a_panels[ip], b_panels[jp], C + i0 * ldc + j, ldc, std::min(MR, M - i0),
                   std::min(NR, N - j), alpha, accumulate);
          }
    }
  }
}

// C (M, N), row stride ldc: C = alpha op(A) op(B) + beta C, with op(A) and op(B) given by the
// packers. beta = 0 overwrites C without reading it (NaNs in C never leak into the result).
// Threads: each takes one contiguous share of C's columns (or of its rows, when C is taller than
// wide), whole register panels, and runs the blocked product on it alone, packing its own
// operands (the other operand's packing is repeated per thread, a small cost against the
// product). One fork and one join per call: the earlier split of every slice's packing and tiles
// between threads had a barrier after each, and on a machine shared with other work each
// barrier waits for a descheduled thread. Called inside a parallel region (a convolution's
// threads taking whole images), or for a small product, it runs on the calling thread alone.
template <typename T, typename PackA, typename PackB>
void gemm_blocked(const MicroKernel<T>& mk, int64_t M, int64_t N, int64_t K, T alpha,
                  const PackA& pack_a, const PackB& pack_b, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const bool single = omp_in_parallel() || omp_get_max_threads() == 1 ||
                      M * N * std::max<int64_t>(K, 1) < (int64_t{1} << 18);
  if (single) return gemm_blocked_serial(mk, M, N, K, alpha, pack_a, pack_b, beta, C, ldc);
  const bool by_columns = N >= M;
  const int64_t unit = by_columns ? mk.nr : mk.mr, extent = by_columns ? N : M;
  const int64_t units = (extent + unit - 1) / unit;
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t first = std::min(extent, units * t / threads * unit);
    const int64_t last = std::min(extent, units * (t + 1) / threads * unit);
    if (first < last && by_columns) {
      const auto shifted_b = [&](int64_t j0, int64_t k0, int64_t kc, T* dst) {
        return pack_b(first + j0, k0, kc, dst);
      };
      gemm_blocked_serial(mk, M, last - first, K, alpha, pack_a, shifted_b, beta, C + first, ldc);
    } else if (first < last) {
      const auto shifted_a = [&](int64_t i0, int64_t k0, int64_t kc, T* dst) {
        return pack_a(first + i0, k0, kc, dst);
      };
      gemm_blocked_serial(mk, last - first, N, K, alpha, shifted_a, pack_b, beta, C + first * ldc,
                          ldc);
    }
  }
}

// The packers of a stored matrix: op(A) element (i, k), op(B) element (k, j), row-major with
// row stride ld, transposed or not.
template <typename T>
struct MatrixPackA {
  const T* A;
  int64_t lda, M;
  bool trans;
  int64_t mr;
  const T* operator()(int64_t i0, int64_t k0, int64_t kc, T* dst) const {
    const int64_t rows = std::min(mr, M - i0);
    for (int64_t k = 0; k < kc; ++k) {
      T* out = dst + k * mr;
      if (trans) {  // op(A)(i, k) = A[k][i]: the panel's column is a run of row k0 + k
        const T* src = A + (k0 + k) * lda + i0;
        for (int64_t r = 0; r < rows; ++r) out[r] = src[r];
      } else {
        const T* src = A + i0 * lda + k0 + k;
        for (int64_t r = 0; r < rows; ++r) out[r] = src[r * lda];
      }
      for (int64_t r = rows; r < mr; ++r) out[r] = T(0);
    }
    return dst;
  }
};

template <typename T>
struct MatrixPackB {
  const T* B;
  int64_t ldb, N;
  bool trans;
  int64_t nr;
  const T* operator()(int64_t j0, int64_t k0, int64_t kc, T* dst) const {
    const int64_t cols = std::min(nr, N - j0);
    for (int64_t k = 0; k < kc; ++k) {
      T* out = dst + k * nr;
      if (trans) {  // op(B)(k, j) = B[j][k]
        const T* src = B + j0 * ldb + k0 + k;
        for (int64_t c = 0; c < cols; ++c) out[c] = src[c * ldb];
      } else {
        const T* src = B + (k0 + k) * ldb + j0;
        for (int64_t c = 0; c < cols; ++c) out[c] = src[c];
      }
      for (int64_t c = cols; c < nr; ++c) out[c] = T(0);
    }
    return dst;
  }
};

// Packed panels that already exist, over their full depth: panel p (of `width` rows or columns)
// holds (depth, width) values at base + p depth width, and the slice [k0, k0 + kc) starts k0
// rows into it. The A or B packer of an operand packed once and used by many products (a
// convolution's weights, for every image) or written packed by a transform (Winograd).
template <typename T>
struct Prepacked {
  const T* base;
  int64_t depth, width;
  const T* operator()(int64_t first, int64_t k0, int64_t, T*) const {
    return base + (first / width) * depth * width + k0 * width;
  }
};

// op(A) (M, K) packed whole into `out` as A panels of mr rows over the full depth K:
// (ceil(M / mr), K, mr), rows past M zero. Read it with Prepacked{out, K, mr}.
template <typename T>
void pack_a_whole(const T* A, int64_t lda, bool trans, int64_t M, int64_t K, int64_t mr, T* out) {
  const MatrixPackA<T> pack{A, lda, M, trans, mr};
  const int64_t panels = (M + mr - 1) / mr;
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && M * K > (int64_t{1} << 16))
  for (int64_t p = 0; p < panels; ++p) pack(p * mr, 0, K, out + p * K * mr);
}

}  // namespace busi::cpu
