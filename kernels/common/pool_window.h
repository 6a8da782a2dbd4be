// The pooling windows both backends walk (kernels/cpu/pool.cpp and kernels/cuda/pool.cu call
// these same functions), and the gradients they compute, stated once:
//
//   window (oh, ow) covers input rows [oh s - p, oh s - p + k) and columns likewise, clipped to
//   the plane (padding is never read: for max pooling that is the same as -infinity)
//   max:  y = x[a], a = the window's first maximum in row-major order (strict >, ties keep the
//         first)                          =>  dL/dx[a] += dL/dy, 0 for the window's other inputs
//   avg:  y = (1/n) sum of the window's n real inputs
//                                         =>  dL/dx[e] += dL/dy / n for each of those inputs
//   global average over a plane of HW values: dL/dx = dL/dy / HW everywhere
// An input in several windows (stride < kernel) adds up what each window gives it.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace busi {

// Input coordinates [begin, end) along one axis.
struct PoolSpan {
  int64_t begin, end;
  BUSI_HOST_DEVICE int64_t size() const { return end - begin; }
};

// The real inputs of window `out_index` along one axis (kernel `kernel`, stride, padding, `in`
// inputs): it starts at out_index * stride - pad and is `kernel` long, clipped to [0, in).
BUSI_HOST_DEVICE inline PoolSpan pool_window_span(int64_t out_index, int64_t stride, int64_t pad,
                                                  int64_t kernel, int64_t in) {
  const int64_t start = out_index * stride - pad;
  return {start > 0 ? start : 0, start + kernel < in ? start + kernel : in};
}

// Plane index h * W + v of the window's first maximum (rows x cols of a plane W wide). The first
// real input is taken as it is, so a NaN there propagates; -1 for an empty window (which the
// ops' argument checks rule out).
template <typename T>
BUSI_HOST_DEVICE inline int64_t pool_first_max_index(const T* plane, int64_t W, PoolSpan rows,
                                                     PoolSpan cols) {
  int64_t best = -1;
  T best_value = T(0);
  for (int64_t h = rows.begin; h < rows.end; ++h)
    for (int64_t v = cols.begin; v < cols.end; ++v) {
      const T value = plane[h * W + v];
      if (best < 0 || value > best_value) {
        best = h * W + v;
        best_value = value;
      }
    }
  return best;
}

}  // namespace busi
