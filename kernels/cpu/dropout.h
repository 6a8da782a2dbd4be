// CPU reference kernels for inverted dropout. The keep mask is never stored: element i is kept
// when the Philox value philox_u32(seed, counter, i), as a uniform in [0, 1), is >= p, so the
// backward (and the CUDA twin) recompute exactly the same mask.
#pragma once

#include <cstdint>

namespace busi::cpu {

// y = keep_i ? x / (1 - p) : 0
template <typename T>
void dropout_forward(int64_t n, const T* x, float p, uint64_t seed, uint64_t counter, T* y);
// dx = keep_i ? dy / (1 - p) : 0
template <typename T>
void dropout_backward(int64_t n, const T* dy, float p, uint64_t seed, uint64_t counter, T* dx);

}  // namespace busi::cpu
