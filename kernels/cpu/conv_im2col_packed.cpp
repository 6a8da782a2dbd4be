// im2col + GEMM with the unrolling fused into the GEMM's packing: the packers of gemm_blocked.h
// read each panel of the column matrix straight from the image, so the matrix
// col (C*kH*kW, Ho*Wo) is never written out and read back (one pass over K*P floats saved per
// product, and the packed panels stay in L1/L2). The same products as conv_im2col.cpp:
//   forward  y_n (O, P)  = W (O, K) col (K, P)                      B panel = columns of col
//   dw       dw (O, K)  += dy_n (O, P) col^T (P, K)                 B panel = rows of col
//   dx       dcol (K, P) = W^T (K, O) dy_n (O, P), dx_n = col2im(dcol)   (as the reference)
// In BF16 mode each product rounds its packed operands to bf16 (gemm_bf16_blocked.h).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/gemm_bf16_blocked.h"
#include "kernels/cpu/host_allocator.h"

namespace busi::cpu {

namespace {

// The values of row (c, p, q) of image x_n's column matrix at output positions
// [first, first + count), written to dst[t * step] for t < count. Position (i, j) reads
// x[c, i*s - pad + p, j*s - pad + q], or 0 in the padding. Walks the positions one output row at
// a time: inside a row the inside part is one range of j, copied in a run for stride 1.
// kUnit: the step is 1 (the forward's panels), so the copies are plain runs.
template <bool kUnit, typename T>
void col_row_segment(const Conv2dShape& s, const T* x_n, int64_t row, int64_t first, int64_t count,
                     T* dst, int64_t runtime_step) {
  const int64_t step = kUnit ? 1 : runtime_step;
  const int64_t c = row / (s.kH * s.kW), p = (row / s.kW) % s.kH, q = row % s.kW;
  const T* x_c = x_n + c * s.H * s.W;  // (H, W)
  // Output columns j whose input column j*s - pad + q is inside [0, W): [j_begin, j_end).
  auto ceil_nonneg = [](int64_t a, int64_t b) { return a <= 0 ? int64_t{0} : (a + b - 1) / b; };
  const int64_t j_begin = std::min(s.Wo, ceil_nonneg(s.pad - q, s.stride));
  const int64_t j_end = std::max(j_begin, std::min(s.Wo, ceil_nonneg(s.W + s.pad - q, s.stride)));
  int64_t i = first / s.Wo, j = first % s.Wo, t = 0;
  while (t < count) {
    const int64_t run_end = std::min(s.Wo, j + (count - t));  // this output row's last j + 1
    const int64_t h = i * s.stride - s.pad + p;
    if (h < 0 || h >= s.H) {
      for (; j < run_end; ++j, ++t) dst[t * step] = T(0);
    } else {
      const int64_t row0 = h * s.W - s.pad + q;  // x_c[row0 + j * stride] is position (i, j)
      for (; j < std::min(run_end, j_begin); ++j, ++t) dst[t * step] = T(0);
      const int64_t inside_end = std::min(run_end, j_end);
      if (s.stride == 1) {
        for (; j < inside_end; ++j, ++t) dst[t * step] = x_c[row0 + j];
      } else {
        for (; j < inside_end; ++j, ++t) dst[t * step] = x_c[row0 + j * s.stride];
      }
      for (; j < run_end; ++j, ++t) dst[t * step] = T(0);
    }
    ++i;
    j = 0;
  }
}

// The B panel of the forward product: columns [j0, j0 + NR) (output positions) of col, depth
// [k0, k0 + kc) (rows of col), as (kc, NR).
template <typename T>
struct ForwardColumnsPacker {
  const Conv2dShape& s;
  const T* x_n;
  int64_t nr;
  const T* operator()(int64_t j0, int64_t k0, int64_t kc, T* dst) const {
    const int64_t P = s.Ho * s.Wo, cols = std::min(nr, P - j0);
    for (int64_t k = 0; k < kc; ++k) {
      T* out = dst + k * nr;
      col_row_segment<true>(s, x_n, k0 + k, j0, cols, out, 1);
      for (int64_t c = cols; c < nr; ++c) out[c] = T(0);
    }
    return dst;
  }
};

// The B panel of the dw product, col^T: columns [j0, j0 + NR) are rows of col, depth
// [k0, k0 + kc) output positions. Each col row segment lands in one column of the panel.
template <typename T>
struct FilterRowsPacker {
  const Conv2dShape& s;
  const T* x_n;
  int64_t nr;
  const T* operator()(int64_t j0, int64_t k0, int64_t kc, T* dst) const {
    const int64_t K = s.C * s.kH * s.kW, rows = std::min(nr, K - j0);
    for (int64_t r = 0; r < rows; ++r) col_row_segment<false>(s, x_n, j0 + r, k0, kc, dst + r, nr);
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = rows; r < nr; ++r) dst[k * nr + r] = T(0);
    return dst;
  }
};

// In BF16 mode the dw product's B panel as pairs, written straight from the image: a panel
// column is a row of col, whose depth is the output positions, so the two values of a pair are
// neighbouring positions of one run (gemm_bf16_blocked.h, write_pair_panel_by_columns). Found by
// gemm_blocked_bf16 through argument-dependent lookup; the same words as converting the float
// panel.
struct FilterRowsPairPacker {
  FilterRowsPacker<float> rows;
  const float* operator()(int64_t j0, int64_t k0, int64_t kc, float* dst) const {
    const Conv2dShape& s = rows.s;
    const int64_t K = s.C * s.kH * s.kW;
    thread_local Scratch<float> scratch;
    float* run = scratch.get(kc);  // (kc) one row of col
    write_pair_panel_by_columns(kc, rows.nr, std::min(rows.nr, K - j0),
                                reinterpret_cast<uint32_t*>(dst), [&](int64_t r) {
                                  col_row_segment<true>(s, rows.x_n, j0 + r, k0, kc, run, 1);
                                  return static_cast<const float*>(run);
                                });
    return dst;
  }
};
FilterRowsPairPacker pair_packer(const FilterRowsPacker<float>& rows, int64_t) { return {rows}; }

// The adjoint of the unrolling, as conv_im2col.cpp's col2im: dx (C, H, W) = 0, then
// dx[c, i*s - pad + p, j*s - pad + q] += dcol[(c, p, q), (i, j)] where that is not padding.
template <typename T>
void col2im_image(const Conv2dShape& s, const T* dcol, T* dx_n) {
  const int64_t P = s.Ho * s.Wo;
  auto ceil_nonneg = [](int64_t a, int64_t b) { return a <= 0 ? int64_t{0} : (a + b - 1) / b; };
  std::fill(dx_n, dx_n + s.C * s.H * s.W, T(0));
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t p = 0; p < s.kH; ++p)
      for (int64_t q = 0; q < s.kW; ++q) {
        const T* src = dcol + ((c * s.kH + p) * s.kW + q) * P;  // (Ho, Wo)
        T* dx_c = dx_n + c * s.H * s.W;                         // (H, W)
        // Output columns j whose input column j*s - pad + q is inside [0, W), as in
        // col_row_segment.
        const int64_t j_begin = std::min(s.Wo, ceil_nonneg(s.pad - q, s.stride));
        const int64_t j_end =
            std::max(j_begin, std::min(s.Wo, ceil_nonneg(s.W + s.pad - q, s.stride)));
        for (int64_t i = 0; i < s.Ho; ++i) {
          const int64_t h = i * s.stride - s.pad + p;
          if (h < 0 || h >= s.H) continue;
          const int64_t row0 = h * s.W - s.pad + q;  // dx_c[row0 + j * stride]: position (i, j)
          const T* src_row = src + i * s.Wo;
          if (s.stride == 1) {
            for (int64_t j = j_begin; j < j_end; ++j) dx_c[row0 + j] += src_row[j];
          } else {
            for (int64_t j = j_begin; j < j_end; ++j) dx_c[row0 + j * s.stride] += src_row[j];
          }
        }
      }
}

}  // namespace

// One image per thread (threads_take_whole_images), or the GEMM's own threads for one image.
template <typename T>
void im2col_packed_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
  const MicroKernel<T> mk = micro_kernel_for<T>();
  // W (O, K) packed once for all images (for a small image, packing per product cost as much
  // as the product; in BF16 mode converted to bf16 pairs once too).
  const PackedOperandA<T> w_packed(mk, w, K, false, s.O, K);
#pragma omp parallel for schedule(static) if (threads_take_whole_images(s))
  for (int64_t n = 0; n < s.N; ++n) {
    T* y_n = y + n * s.O * P;  // (O, P)
    if (b)
      for (int64_t o = 0; o < s.O; ++o) std::fill(y_n + o * P, y_n + (o + 1) * P, b[o]);
    w_packed.times(P, T(1), ForwardColumnsPacker<T>{s, x + n * s.C * s.H * s.W, mk.nr},
                   b ? T(1) : T(0), y_n, P);
  }
}

// dw = sum over images of each image's dw, each thread into its own (O, K) buffer, added in
// thread order at the end (as the reference).
template <typename T>
void im2col_packed_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx,
                            T* dw) {
  if (!dx && !dw) return;
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
  const MicroKernel<T> mk = micro_kernel_for<T>();
  // Every buffer from the host cache: fresh memory each call cost page faults every step.
  std::vector<HostBuffer<T>> dw_per_thread(omp_get_max_threads());  // each (O, K) or empty
  // W^T (K, O) packed once for all images (nothing when dx is not wanted).
  const PackedOperandA<T> wt_packed(mk, w, K, true, dx ? K : 0, s.O);
#pragma omp parallel if (threads_take_whole_images(s))
  {
    HostBuffer<T> dcol(dx ? K * P : 0);  // (K, P), one per thread; the GEMM writes all of it
    HostBuffer<T>& my_dw = dw_per_thread[omp_get_thread_num()];
    if (dw) {
      my_dw.resize(s.O * K);
      std::fill(my_dw.data(), my_dw.data() + s.O * K, T(0));
    }
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.N; ++n) {
      const T* x_n = x + n * s.C * s.H * s.W;
      const T* dy_n = dy + n * s.O * P;  // (O, P)
      if (dw)
        gemm_blocked_in_mode(mk, s.O, K, P, T(1), MatrixPackA<T>{dy_n, P, s.O, false, mk.mr},
                             FilterRowsPacker<T>{s, x_n, mk.nr}, T(1), my_dw.data(), K);
      if (dx) {
        wt_packed.times(P, T(1), MatrixPackB<T>{dy_n, P, P, false, mk.nr}, T(0), dcol.data(), P);
        col2im_image(s, dcol.data(), dx + n * s.C * s.H * s.W);
      }
    }
  }
  if (dw) sum_partials(dw_per_thread, s.O * K, dw);
}

#define BUSI_INSTANTIATE(T)                                                                     \
  template void im2col_packed_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*); \
  template void im2col_packed_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
