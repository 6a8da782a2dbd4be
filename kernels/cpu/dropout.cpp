// CPU reference kernels for inverted dropout (see dropout.h). The keep mask is recomputed from
// (seed, counter, i) by Philox, so the forward and the backward are the same masked scaling.
#include "kernels/cpu/dropout.h"

#include "kernels/common/philox.h"

namespace busi::cpu {

namespace {

// out_i = keep_i ? in_i / (1 - p) : 0, where keep_i = (uniform from philox_u32(seed, counter, i))
// >= p, i.e. element i survives with probability 1 - p. One Philox block gives the four values
// of elements 4b .. 4b+3 (exactly philox_u32(seed, counter, 4b + lane)), so each block is
// computed once rather than once per element.
template <typename T>
void apply_dropout_mask(int64_t n, const T* in, float p, uint64_t seed, uint64_t counter, T* out) {
  const T keep_probability = T(1) - static_cast<T>(p);
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t b = 0; b < blocks; ++b) {
    const PhiloxBlock random = philox4x32_10(counter + static_cast<uint64_t>(b), seed);
    for (int64_t lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * b + lane;
      if (i >= n) break;
      const bool keep = u32_to_unit_float(random.v[lane]) >= p;
      out[i] = keep ? in[i] / keep_probability : T(0);
    }
  }
}

}  // namespace

template <typename T>
void dropout_forward(int64_t n, const T* x, float p, uint64_t seed, uint64_t counter, T* y) {
  apply_dropout_mask(n, x, p, seed, counter, y);
}

// y_i = m_i x_i / (1 - p) with a fixed mask m, so dx_i = m_i dy_i / (1 - p): the same mask and
// scaling applied to dy.
template <typename T>
void dropout_backward(int64_t n, const T* dy, float p, uint64_t seed, uint64_t counter, T* dx) {
  apply_dropout_mask(n, dy, p, seed, counter, dx);
}

#define BUSI_INSTANTIATE(T)                                                           \
  template void dropout_forward<T>(int64_t, const T*, float, uint64_t, uint64_t, T*); \
  template void dropout_backward<T>(int64_t, const T*, float, uint64_t, uint64_t, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
