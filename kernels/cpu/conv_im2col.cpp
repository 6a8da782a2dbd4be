// CPU convolution by im2col + GEMM, the reference algorithm (the math is in conv.h): each
// image's receptive fields are unrolled into the columns of a matrix, which turns the
// convolution into one matrix product. Written for reading; the fast paths are tested against it.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/gemm.h"

namespace busi::cpu {

namespace {

constexpr int64_t kParallelWork = kConvParallelWork;

// ceil(a / b) for b > 0, clamped below at 0 (only non-negative indices are wanted here).
inline int64_t ceil_div_nonneg(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// The output indices j in [0, out) whose input coordinate j * stride - pad + offset falls inside
// [0, in). The coordinate grows with j, so they form one range [begin, end):
//   j * stride - pad + offset >= 0   <=>  j >= ceil((pad - offset) / stride)
//   j * stride - pad + offset <  in  <=>  j <  ceil((in + pad - offset) / stride)
struct IndexRange {
  int64_t begin, end;
};
inline IndexRange inside_outputs(int64_t in, int64_t out, int64_t stride, int64_t pad,
                                 int64_t offset) {
  const int64_t begin = std::min(out, ceil_div_nonneg(pad - offset, stride));
  const int64_t end = std::min(out, ceil_div_nonneg(in + pad - offset, stride));
  return {begin, std::max(begin, end)};
}

// A 1x1 convolution with stride 1 and no padding needs no unrolling: the image (C, H*W) already
// is its column matrix.
inline bool is_pointwise(const Conv2dShape& s) {
  return s.kH == 1 && s.kW == 1 && s.stride == 1 && s.pad == 0;
}

// col (C*kH*kW, Ho*Wo) from one image x (C, H, W): row (c, p, q), column (i, j) holds
// x[c, i*s - pad + p, j*s - pad + q], or 0 where that falls in the padding. Rows are independent,
// so threads split them.
template <typename T>
void im2col(const Conv2dShape& s, const T* x, T* col) {
  const int64_t rows = s.C * s.kH * s.kW;
#pragma omp parallel for schedule(static) if (rows * s.Ho * s.Wo > kParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / (s.kH * s.kW), p = (r / s.kW) % s.kH, q = r % s.kW;
    const T* x_c = x + c * s.H * s.W;  // (H, W)
    const IndexRange inside = inside_outputs(s.W, s.Wo, s.stride, s.pad, q);
    T* dst = col + r * s.Ho * s.Wo;  // (Ho, Wo)
    for (int64_t i = 0; i < s.Ho; ++i, dst += s.Wo) {
      const int64_t h = i * s.stride - s.pad + p;
      if (h < 0 || h >= s.H) {
        std::fill(dst, dst + s.Wo, T(0));
        continue;
      }
      const T* x_row = x_c + h * s.W;  // (W)
      std::fill(dst, dst + inside.begin, T(0));
      if (s.stride == 1 && inside.begin < inside.end) {  // one contiguous run of the row
        std::copy(x_row + inside.begin - s.pad + q, x_row + inside.end - s.pad + q,
                  dst + inside.begin);
      } else {
        for (int64_t j = inside.begin; j < inside.end; ++j)
          dst[j] = x_row[j * s.stride - s.pad + q];
      }
      std::fill(dst + inside.end, dst + s.Wo, T(0));
    }
  }
}

// The adjoint of im2col: dx (C, H, W) = 0, then dx[c, i*s - pad + p, j*s - pad + q] +=
// dcol[(c, p, q), (i, j)] for every entry that is not padding. Several (p, q) rows write the same
// dx element, so threads split by channel: each owns its dx plane.
template <typename T>
void col2im(const Conv2dShape& s, const T* dcol, T* dx) {
  const int64_t work = s.C * s.kH * s.kW * s.Ho * s.Wo;  // dcol elements
#pragma omp parallel for schedule(static) if (work > kParallelWork)
  for (int64_t c = 0; c < s.C; ++c) {
    T* dx_c = dx + c * s.H * s.W;  // (H, W)
    std::fill(dx_c, dx_c + s.H * s.W, T(0));
    for (int64_t p = 0; p < s.kH; ++p)
      for (int64_t q = 0; q < s.kW; ++q) {
        const T* src = dcol + ((c * s.kH + p) * s.kW + q) * s.Ho * s.Wo;  // (Ho, Wo)
        const IndexRange inside = inside_outputs(s.W, s.Wo, s.stride, s.pad, q);
        for (int64_t i = 0; i < s.Ho; ++i) {
          const int64_t h = i * s.stride - s.pad + p;
          if (h < 0 || h >= s.H) continue;
          T* dx_row = dx_c + h * s.W;  // (W)
          const T* src_row = src + i * s.Wo;
          for (int64_t j = inside.begin; j < inside.end; ++j)
            dx_row[j * s.stride - s.pad + q] += src_row[j];
        }
      }
  }
}

// The column matrix (C*kH*kW, Ho*Wo) of image x_n: x_n itself for a pointwise convolution,
// otherwise im2col written into `buffer`.
template <typename T>
const T* columns_of(const Conv2dShape& s, const T* x_n, std::vector<T>& buffer) {
  if (is_pointwise(s)) return x_n;
  im2col(s, x_n, buffer.data());
  return buffer.data();
}

// One image, with K = C*kH*kW and P = Ho*Wo:
//   y_n (O, P) = b (broadcast along P) + W (O, K) col (K, P)
template <typename T>
void forward_image(const Conv2dShape& s, const T* x_n, const T* w, const T* b, T* y_n,
                   std::vector<T>& col_buffer) {
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
  const T* col = columns_of(s, x_n, col_buffer);
  if (b) {
    // Start from the bias and let the GEMM add W col on top (beta = 1).
    for (int64_t o = 0; o < s.O; ++o) std::fill(y_n + o * P, y_n + (o + 1) * P, b[o]);
  }
  gemm<T>(false, false, s.O, P, K, T(1), w, K, col, P, b ? T(1) : T(0), y_n, P);
}

// One image, with K = C*kH*kW and P = Ho*Wo (y_n = W col + b, so by the matrix rules):
//   dw (O, K)   += dy_n (O, P) col^T (P, K)
//   dcol (K, P)  = W^T (K, O) dy_n (O, P),   then dx_n = col2im(dcol)
// `buffer` (K, P) serves as col for dw and then as dcol for dx. A null dx_n or dw is skipped:
// a frozen layer needs no dw products, a first layer no dcol and col2im.
template <typename T>
void backward_image(const Conv2dShape& s, const T* x_n, const T* w, const T* dy_n, T* dx_n, T* dw,
                    std::vector<T>& buffer) {
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
  if (dw) {
    const T* col = columns_of(s, x_n, buffer);
    gemm<T>(false, true, s.O, K, P, T(1), dy_n, P, col, P, T(1), dw, K);
  }
  if (dx_n) {
    // For a pointwise convolution dcol is dx_n itself.
    T* dcol = is_pointwise(s) ? dx_n : buffer.data();
    gemm<T>(true, false, K, P, s.O, T(1), w, K, dy_n, P, T(0), dcol, P);
    if (!is_pointwise(s)) col2im(s, dcol, dx_n);
  }
}

}  // namespace

template <typename T>
void im2col_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
#pragma omp parallel if (threads_take_whole_images(s))
  {
    std::vector<T> col_buffer(is_pointwise(s) ? 0 : K * P);  // (K, P), one per thread
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.N; ++n)
      forward_image(s, x + n * s.C * s.H * s.W, w, b, y + n * s.O * P, col_buffer);
  }
}

// dw = sum over images of each image's dw; db = sum over images and positions of dy.
// Each thread sums the dw of its images in its own (O, K) buffer; the buffers are added at the
// end in thread order, so the result does not depend on timing.
template <typename T>
void im2col_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  if (!dx && !dw) return;
  const int64_t K = s.C * s.kH * s.kW, P = s.Ho * s.Wo;
  std::vector<std::vector<T>> dw_per_thread(omp_get_max_threads());  // each (O, K) or empty
#pragma omp parallel if (threads_take_whole_images(s))
  {
    std::vector<T> buffer(is_pointwise(s) ? 0 : K * P);  // (K, P), one per thread
    std::vector<T>& my_dw = dw_per_thread[omp_get_thread_num()];
    if (dw) my_dw.assign(s.O * K, T(0));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.N; ++n)
      backward_image(s, x + n * s.C * s.H * s.W, w, dy + n * s.O * P,
                     dx ? dx + n * s.C * s.H * s.W : nullptr, dw ? my_dw.data() : nullptr, buffer);
  }
  if (dw) sum_partials(dw_per_thread, s.O * K, dw);
}

#define BUSI_INSTANTIATE(T)                                                              \
  template void im2col_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*); \
  template void im2col_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
