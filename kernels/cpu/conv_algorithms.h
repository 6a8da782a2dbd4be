// The convolution algorithms behind conv.h, one file each, and what they share. Internal to
// kernels/cpu/: callers go through conv2d_forward / conv2d_backward.
#pragma once

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/common/shapes.h"

namespace busi::cpu {

// Below this many multiply-adds (or elements touched) a loop runs on one thread: forking and
// joining threads costs microseconds, and far more when other processes compete for the cores.
constexpr int64_t kConvParallelWork = int64_t{1} << 16;

// Images are independent. With at least as many images as threads, each thread takes whole
// images: one fork/join per call, and the GEMM inside runs on its thread alone (a nested OpenMP
// region gets one thread). So do small convolutions, whatever their batch: one fork/join costs
// less than the several of a parallel GEMM. Otherwise (a large batch-1 convolution: inference,
// Grad-CAM) the outer region is switched off and the GEMM parallelises inside instead.
inline bool threads_take_whole_images(const Conv2dShape& s) {
  const int64_t multiply_adds = s.N * s.O * s.C * s.kH * s.kW * s.Ho * s.Wo;
  return !omp_in_parallel() &&
         (s.N >= omp_get_max_threads() || multiply_adds < 16 * kConvParallelWork);
}

// db[o] = sum_{n,i,j} dy[n,o,i,j]
template <typename T>
void conv_bias_gradient(const Conv2dShape& s, const T* dy, T* db) {
  const int64_t P = s.Ho * s.Wo;
#pragma omp parallel for schedule(static) if (s.N * s.O * P > kConvParallelWork)
  for (int64_t o = 0; o < s.O; ++o) {
    T total = T(0);
    for (int64_t n = 0; n < s.N; ++n) {
      const T* dy_no = dy + (n * s.O + o) * P;  // (Ho*Wo)
      for (int64_t k = 0; k < P; ++k) total += dy_no[k];
    }
    db[o] = total;
  }
}

// out (count) = sum of the non-empty partial buffers (std::vector or HostBuffer, one per thread),
// added in index order (so the result does not depend on which thread finished first).
template <typename T, typename Partials>
void sum_partials(const Partials& partials, int64_t count, T* out) {
  const int64_t work = count * static_cast<int64_t>(partials.size());
#pragma omp parallel for schedule(static) if (work > kConvParallelWork)
  for (int64_t k = 0; k < count; ++k) {
    T total = T(0);
    for (const auto& part : partials)
      if (!part.empty()) total += part.data()[k];
    out[k] = total;
  }
}

// Each algorithm: the forward; the backward's dx and dw (either may be null; db is done by the
// caller).
template <typename T>
void im2col_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y);
template <typename T>
void im2col_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw);

template <typename T>
void im2col_packed_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y);
template <typename T>
void im2col_packed_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx,
                            T* dw);

// Winograd F(tile x tile, 3x3), tile 2 or 4.
template <typename T>
void winograd_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y, int64_t tile);
template <typename T>
void winograd_backward_data(const Conv2dShape& s, const T* w, const T* dy, T* dx, int64_t tile);
template <typename T>
void winograd_backward_filter(const Conv2dShape& s, const T* x, const T* dy, T* dw, int64_t tile);

}  // namespace busi::cpu
