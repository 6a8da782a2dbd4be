// CPU pooling kernels (see pool.h): max, average and global average, forward and backward.
// Every (n, c) plane is independent, so threads split the N*C planes.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/common/pool_window.h"
#include "kernels/cpu/cpu_kernels.h"

namespace busi::cpu {

// pool_avx512.cpp: windows [0, 16 floor(Wo / 16)) of one row of the 2x2 max-pool gradient, on
// AVX-512 F (only once cpu_kernels.h has found it); returns how many it did.
int64_t max_pool_2x2_backward_row_avx512(const float* r0, const float* r1, const float* g,
                                         float* d0, float* d1, int64_t Wo);

namespace {

// Below this many input elements a loop runs on one thread: forking and joining threads costs
// microseconds, and far more when other processes compete for the cores.
constexpr int64_t kParallelWork = int64_t{1} << 15;

// The windows (pool_window_span, pool_first_max_index) and the gradient formulas:
// kernels/common/pool_window.h, shared with the CUDA twin.

// The networks' pooling, 2x2 windows at stride 2 without padding: every window lies inside the
// plane and no two overlap, so the general scan reduces to four values per output: the same
// first maximum in row-major order (strict >, so ties and a leading NaN keep the first), written
// as comparisons and selects that vectorise.
inline bool is_plain_2x2(const Pool2dShape& s) {
  return s.kernel == 2 && s.stride == 2 && s.pad == 0;
}

template <typename T>
void max_pool2d_2x2_forward(const Pool2dShape& s, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane)
    for (int64_t i = 0; i < s.Ho; ++i) {
      const T* r0 = x + plane * s.H * s.W + 2 * i * s.W;  // the window's two rows
      const T* r1 = r0 + s.W;
      T* out = y + (plane * s.Ho + i) * s.Wo;
#pragma omp simd
      for (int64_t j = 0; j < s.Wo; ++j) {
        T best = r0[2 * j];  // a NaN here stays: no comparison with it is true
        if (r0[2 * j + 1] > best) best = r0[2 * j + 1];
        if (r1[2 * j] > best) best = r1[2 * j];
        if (r1[2 * j + 1] > best) best = r1[2 * j + 1];
        out[j] = best;
      }
    }
}

template <typename T>
void max_pool2d_2x2_backward(const Pool2dShape& s, const T* x, const T* dy, T* dx) {
  // GCC leaves the loop below scalar (four interleaved stores per window); on AVX-512 the
  // vector row does 16 windows at a time and the loop only the rest (pool_avx512.cpp).
  [[maybe_unused]] const bool vector_rows =
      std::is_same_v<T, float> && active_cpu_kernels() == CpuKernels::avx512;
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane) {
    T* dx_p = dx + plane * s.H * s.W;                                 // (H, W)
    if (s.H % 2 || s.W % 2) std::fill(dx_p, dx_p + s.H * s.W, T(0));  // a row or column unread
    for (int64_t i = 0; i < s.Ho; ++i) {
      const T* r0 = x + plane * s.H * s.W + 2 * i * s.W;
      const T* r1 = r0 + s.W;
      T* d0 = dx_p + 2 * i * s.W;
      T* d1 = d0 + s.W;
      const T* g = dy + (plane * s.Ho + i) * s.Wo;
      int64_t done = 0;
      if constexpr (std::is_same_v<T, float>)
        if (vector_rows) done = max_pool_2x2_backward_row_avx512(r0, r1, g, d0, d1, s.Wo);
#pragma omp simd
      for (int64_t j = done; j < s.Wo; ++j) {
        // beat_k: element k beats the maximum of those before it; the last that does is the
        // first maximum.
        const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        const bool beat_b = b > a;
        const T upto_b = beat_b ? b : a;
        const bool beat_c = c > upto_b;
        const bool beat_d = d > (beat_c ? c : upto_b);
        const bool later_c = beat_c | beat_d;  // bitwise: no branches, so the loop vectorises
        d0[2 * j] = !(beat_b | later_c) ? g[j] : T(0);
        d0[2 * j + 1] = (beat_b & !later_c) ? g[j] : T(0);
        d1[2 * j] = (beat_c & !beat_d) ? g[j] : T(0);
        d1[2 * j + 1] = beat_d ? g[j] : T(0);
      }
    }
  }
}

}  // namespace

template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
  if (is_plain_2x2(s)) return max_pool2d_2x2_forward(s, x, y);
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane) {
    const T* x_p = x + plane * s.H * s.W;  // (H, W)
    T* y_p = y + plane * s.Ho * s.Wo;      // (Ho, Wo)
    for (int64_t i = 0; i < s.Ho; ++i) {
      const PoolSpan rows = pool_window_span(i, s.stride, s.pad, s.kernel, s.H);
      for (int64_t j = 0; j < s.Wo; ++j) {
        const PoolSpan cols = pool_window_span(j, s.stride, s.pad, s.kernel, s.W);
        const int64_t at = pool_first_max_index(x_p, s.W, rows, cols);
        y_p[i * s.Wo + j] = at >= 0 ? x_p[at] : -std::numeric_limits<T>::infinity();
      }
    }
  }
}

// The max-pooling gradient of pool_window.h, rescanning each window for its first maximum. dx is
// overwritten.
template <typename T>
void max_pool2d_backward(const Pool2dShape& s, const T* x, const T* dy, T* dx) {
  if (is_plain_2x2(s)) return max_pool2d_2x2_backward(s, x, dy, dx);
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane) {
    const T* x_p = x + plane * s.H * s.W;      // (H, W)
    const T* dy_p = dy + plane * s.Ho * s.Wo;  // (Ho, Wo)
    T* dx_p = dx + plane * s.H * s.W;          // (H, W)
    std::fill(dx_p, dx_p + s.H * s.W, T(0));
    for (int64_t i = 0; i < s.Ho; ++i) {
      const PoolSpan rows = pool_window_span(i, s.stride, s.pad, s.kernel, s.H);
      for (int64_t j = 0; j < s.Wo; ++j) {
        const PoolSpan cols = pool_window_span(j, s.stride, s.pad, s.kernel, s.W);
        const int64_t at = pool_first_max_index(x_p, s.W, rows, cols);
        if (at >= 0) dx_p[at] += dy_p[i * s.Wo + j];
      }
    }
  }
}

template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane) {
    const T* x_p = x + plane * s.H * s.W;  // (H, W)
    T* y_p = y + plane * s.Ho * s.Wo;      // (Ho, Wo)
    for (int64_t i = 0; i < s.Ho; ++i) {
      const PoolSpan rows = pool_window_span(i, s.stride, s.pad, s.kernel, s.H);
      for (int64_t j = 0; j < s.Wo; ++j) {
        const PoolSpan cols = pool_window_span(j, s.stride, s.pad, s.kernel, s.W);
        T total = T(0);
        for (int64_t h = rows.begin; h < rows.end; ++h)
          for (int64_t v = cols.begin; v < cols.end; ++v) total += x_p[h * s.W + v];
        y_p[i * s.Wo + j] = total / static_cast<T>(std::max<int64_t>(rows.size() * cols.size(), 1));
      }
    }
  }
}

// The average-pooling gradient of pool_window.h, window by window. dx is overwritten.
template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (s.N * s.C * s.H * s.W > kParallelWork)
  for (int64_t plane = 0; plane < s.N * s.C; ++plane) {
    const T* dy_p = dy + plane * s.Ho * s.Wo;  // (Ho, Wo)
    T* dx_p = dx + plane * s.H * s.W;          // (H, W)
    std::fill(dx_p, dx_p + s.H * s.W, T(0));
    for (int64_t i = 0; i < s.Ho; ++i) {
      const PoolSpan rows = pool_window_span(i, s.stride, s.pad, s.kernel, s.H);
      for (int64_t j = 0; j < s.Wo; ++j) {
        const PoolSpan cols = pool_window_span(j, s.stride, s.pad, s.kernel, s.W);
        const T share =
            dy_p[i * s.Wo + j] / static_cast<T>(std::max<int64_t>(rows.size() * cols.size(), 1));
        for (int64_t h = rows.begin; h < rows.end; ++h)
          for (int64_t v = cols.begin; v < cols.end; ++v) dx_p[h * s.W + v] += share;
      }
    }
  }
}

template <typename T>
void global_avg_pool2d_forward(int64_t N, int64_t C, int64_t HW, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelWork)
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const T* x_p = x + plane * HW;  // (H*W)
    T total = T(0);
    for (int64_t k = 0; k < HW; ++k) total += x_p[k];
    y[plane] = total / static_cast<T>(HW);
  }
}

// y[n,c] = (1 / HW) sum_k x[n,c,k], so dx[n,c,k] = dy[n,c] / HW.
template <typename T>
void global_avg_pool2d_backward(int64_t N, int64_t C, int64_t HW, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelWork)
  for (int64_t plane = 0; plane < N * C; ++plane)
    std::fill(dx + plane * HW, dx + (plane + 1) * HW, dy[plane] / static_cast<T>(HW));
}

#define BUSI_INSTANTIATE(T)                                                            \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*);               \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const T*, T*);    \
  template void avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);               \
  template void avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);              \
  template void global_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, const T*, T*); \
  template void global_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, const T*, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
