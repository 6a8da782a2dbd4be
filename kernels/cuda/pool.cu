// CUDA pooling kernels, twins of kernels/cpu/pool.cpp with the same rules: padding is never
// visited (for max pooling that is the same as -infinity), the max is the FIRST maximum in
// row-major window order, averages divide by the number of real elements in the window.
// Max pooling's forward also writes each window's argmax (its plane index h * W + v, int32), so
// the backward routes dy without rescanning the input: for windows that do not overlap (stride >=
// kernel, the networks' 2x2 pooling) one thread per window writes the window's part of dx; for
// overlapping windows each input element gathers the windows whose argmax it is, in the CPU's
// window order. Average pooling's backward gathers the same way. No atomics, and the results
// match the CPU bit for bit.
#include <cuda_runtime.h>

#include <cfloat>

#include "kernels/common/error.h"
#include "kernels/common/pool_window.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace busi::cuda {

namespace {

// The windows (pool_window_span, pool_first_max_index) and the gradient formulas:
// kernels/common/pool_window.h, shared with the CPU twin.

// The output windows [first, last] along one axis that contain input coordinate `x`: window i
// covers [i*stride - pad, i*stride - pad + kernel), so i*stride <= x + pad < i*stride + kernel.
__device__ __forceinline__ PoolSpan windows_containing(int64_t x, int64_t stride, int64_t pad,
                                                       int64_t kernel, int64_t out) {
  const int64_t lowest = x + pad - kernel + 1;  // i*stride >= lowest
  const int64_t first = lowest <= 0 ? 0 : (lowest + stride - 1) / stride;
  const int64_t last = (x + pad) / stride;            // i*stride <= x + pad
  return {first, (last + 1 < out ? last + 1 : out)};  // as [begin, end)
}

// Output element i -> (plane, oh, ow).
__device__ __forceinline__ void split_output(const Pool2dShape& s, int64_t i, int64_t& plane,
                                             int64_t& oh, int64_t& ow) {
  ow = i % s.Wo;
  const int64_t t = i / s.Wo;
  oh = t % s.Ho;
  plane = t / s.Ho;
}

// y = the window's first maximum; argmax = its plane index (-1 for a window with no real
// element, which the argument checks rule out).
__global__ void max_pool_forward_kernel(Pool2dShape s, const float* x, float* y, int32_t* argmax) {
  const int64_t total = s.N * s.C * s.Ho * s.Wo;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count()) {
    int64_t plane, oh, ow;
    split_output(s, i, plane, oh, ow);
    const float* x_p = x + plane * s.H * s.W;  // (H, W)
    const int64_t at =
        pool_first_max_index(x_p, s.W, pool_window_span(oh, s.stride, s.pad, s.kernel, s.H),
                             pool_window_span(ow, s.stride, s.pad, s.kernel, s.W));
    y[i] = at >= 0 ? x_p[at] : -INFINITY;
    argmax[i] = static_cast<int32_t>(at);
  }
}

// Windows that do not overlap (stride >= kernel): each input element lies in at most one window,
// so the thread of window (plane, oh, ow) writes dy to its argmax and 0 to the window's other
// real elements. Elements in no window (a remainder row or column, gaps when stride > kernel)
// were zeroed by a memset before the launch.
__global__ void max_pool_backward_disjoint_kernel(Pool2dShape s, const int32_t* argmax,
                                                  const float* dy, float* dx) {
  const int64_t total = s.N * s.C * s.Ho * s.Wo;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count()) {
    int64_t plane, oh, ow;
    split_output(s, i, plane, oh, ow);
    float* dx_p = dx + plane * s.H * s.W;  // (H, W)
    const PoolSpan rows = pool_window_span(oh, s.stride, s.pad, s.kernel, s.H);
    const PoolSpan cols = pool_window_span(ow, s.stride, s.pad, s.kernel, s.W);
    const int64_t at = argmax[i];
    const float g = dy[i];
    for (int64_t h = rows.begin; h < rows.end; ++h)
      for (int64_t v = cols.begin; v < cols.end; ++v)
        dx_p[h * s.W + v] = h * s.W + v == at ? g : 0.0f;
  }
}

// Overlapping windows: dx[h, v] = sum of dy over the windows whose argmax is (h, v), in the
// CPU's window order.
__global__ void max_pool_backward_gather_kernel(Pool2dShape s, const int32_t* argmax,
                                                const float* dy, float* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count()) {
    const int64_t v = i % s.W, h = (i / s.W) % s.H, plane = i / (s.H * s.W);
    const float* dy_p = dy + plane * s.Ho * s.Wo;         // (Ho, Wo)
    const int32_t* arg_p = argmax + plane * s.Ho * s.Wo;  // (Ho, Wo)
    const PoolSpan rows = windows_containing(h, s.stride, s.pad, s.kernel, s.Ho);
    const PoolSpan cols = windows_containing(v, s.stride, s.pad, s.kernel, s.Wo);
    const int64_t self = h * s.W + v;
    float total_grad = 0.0f;
    for (int64_t oh = rows.begin; oh < rows.end; ++oh)
      for (int64_t ow = cols.begin; ow < cols.end; ++ow)
        if (arg_p[oh * s.Wo + ow] == self) total_grad += dy_p[oh * s.Wo + ow];
    dx[i] = total_grad;
  }
}

__global__ void avg_pool_forward_kernel(Pool2dShape s, const float* x, float* y) {
  const int64_t total = s.N * s.C * s.Ho * s.Wo;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count()) {
    int64_t plane, oh, ow;
    split_output(s, i, plane, oh, ow);
    const float* x_p = x + plane * s.H * s.W;  // (H, W)
    const PoolSpan rows = pool_window_span(oh, s.stride, s.pad, s.kernel, s.H);
    const PoolSpan cols = pool_window_span(ow, s.stride, s.pad, s.kernel, s.W);
    float sum = 0.0f;
    for (int64_t h = rows.begin; h < rows.end; ++h)
      for (int64_t v = cols.begin; v < cols.end; ++v) sum += x_p[h * s.W + v];
    const int64_t count = (rows.end - rows.begin) * (cols.end - cols.begin);
    y[i] = sum / static_cast<float>(count > 1 ? count : 1);
  }
}

// The average-pooling gradient of pool_window.h, gathered per input element (no atomics).
__global__ void avg_pool_backward_kernel(Pool2dShape s, const float* dy, float* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count()) {
    const int64_t v = i % s.W, h = (i / s.W) % s.H, plane = i / (s.H * s.W);
    const float* dy_p = dy + plane * s.Ho * s.Wo;  // (Ho, Wo)
    const PoolSpan rows = windows_containing(h, s.stride, s.pad, s.kernel, s.Ho);
    const PoolSpan cols = windows_containing(v, s.stride, s.pad, s.kernel, s.Wo);
    float total_grad = 0.0f;
    for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
      const PoolSpan wr = pool_window_span(oh, s.stride, s.pad, s.kernel, s.H);
      for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
        const PoolSpan wc = pool_window_span(ow, s.stride, s.pad, s.kernel, s.W);
        const int64_t count = (wr.end - wr.begin) * (wc.end - wc.begin);
        total_grad += dy_p[oh * s.Wo + ow] / static_cast<float>(count > 1 ? count : 1);
      }
    }
    dx[i] = total_grad;
  }
}

// y[plane] = mean of the HW values of the plane: one warp per plane, lanes striding through it,
// a double accumulator and the fixed shuffle tree.
__global__ void global_avg_forward_kernel(int64_t planes, int64_t HW, const float* x, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = global_thread_index() / 32, warps = grid_thread_count() / 32;
  for (int64_t plane = warp; plane < planes; plane += warps) {
    const float* x_p = x + plane * HW;
    double acc = 0.0;
    for (int64_t k = lane; k < HW; k += 32) acc += x_p[k];
    acc = warp_sum(acc);
    if (lane == 0) y[plane] = static_cast<float>(acc) / static_cast<float>(HW);
  }
}

// dx[plane, k] = dy[plane] / HW
__global__ void global_avg_backward_kernel(int64_t planes, int64_t HW, const float* dy, float* dx) {
  const int64_t total = planes * HW;
  for (int64_t i = global_thread_index(); i < total; i += grid_thread_count())
    dx[i] = dy[i / HW] / static_cast<float>(HW);
}

}  // namespace

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t total = s.N * s.C * s.Ho * s.Wo;
  if (total == 0) return;
  BUSI_CHECK(s.H * s.W <= INT32_MAX, "max_pool2d: a plane of ", s.H, " x ", s.W,
             " elements does not fit the int32 argmax");
  BUSI_LAUNCH(max_pool_forward_kernel, grid_for(total), kThreads, 0, s, x, y, argmax);
}

void max_pool2d_backward(const Pool2dShape& s, const int32_t* argmax, const float* dy, float* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  if (s.stride >= s.kernel) {
    // Windows cover every element only when they tile the padded plane exactly.
    const bool covered = s.stride == s.kernel && s.Ho * s.stride == s.H + 2 * s.pad &&
                         s.Wo * s.stride == s.W + 2 * s.pad;
    if (!covered) CUDA_CHECK(cudaMemsetAsync(dx, 0, total * sizeof(float), stream()));
    const int64_t windows = s.N * s.C * s.Ho * s.Wo;
    BUSI_LAUNCH(max_pool_backward_disjoint_kernel, grid_for(windows), kThreads, 0, s, argmax, dy,
                dx);
  } else {
    BUSI_LAUNCH(max_pool_backward_gather_kernel, grid_for(total), kThreads, 0, s, argmax, dy, dx);
  }
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const int64_t total = s.N * s.C * s.Ho * s.Wo;
  if (total == 0) return;
  BUSI_LAUNCH(avg_pool_forward_kernel, grid_for(total), kThreads, 0, s, x, y);
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  BUSI_LAUNCH(avg_pool_backward_kernel, grid_for(total), kThreads, 0, s, dy, dx);
}

void global_avg_pool2d_forward(int64_t N, int64_t C, int64_t HW, const float* x, float* y) {
  const int64_t planes = N * C;
  if (planes == 0 || HW == 0) return;
  BUSI_LAUNCH(global_avg_forward_kernel, grid_for(planes * 32), kThreads, 0, planes, HW, x, y);
}

void global_avg_pool2d_backward(int64_t N, int64_t C, int64_t HW, const float* dy, float* dx) {
  const int64_t planes = N * C;
  if (planes == 0 || HW == 0) return;
  BUSI_LAUNCH(global_avg_backward_kernel, grid_for(planes * HW), kThreads, 0, planes, HW, dy, dx);
}

}  // namespace busi::cuda
