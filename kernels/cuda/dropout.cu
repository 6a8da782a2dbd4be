// CUDA inverted dropout, twin of kernels/cpu/dropout.cpp: element i is kept when the Philox
// value philox_u32(seed, counter, i), as a uniform in [0, 1), is >= p, and kept elements are
// divided by 1 - p. One thread per Philox block computes the four elements 4b .. 4b+3 (one
// float4 when aligned), exactly as the CPU loop does, so the mask and values are bit-identical.
#include <cuda_runtime.h>

#include "kernels/common/philox.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dropout.h"

namespace busi::cuda {

namespace {

// out_i = keep_i ? in_i / (1 - p) : 0 (IEEE division, as on the CPU: nvcc's default -prec-div).
__global__ void dropout_mask_kernel(int64_t n, const float* in, float p, uint64_t seed,
                                    uint64_t counter, float* out, bool vectorised) {
  const float keep_probability = 1.0f - p;
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = global_thread_index(); b < blocks; b += grid_thread_count()) {
    const PhiloxBlock random = philox4x32_10(counter + static_cast<uint64_t>(b), seed);
    const int64_t first = 4 * b;
    if (vectorised && first + 3 < n) {
      float4 v = reinterpret_cast<const float4*>(in)[b];
      v.x = u32_to_unit_float(random.v[0]) >= p ? v.x / keep_probability : 0.0f;
      v.y = u32_to_unit_float(random.v[1]) >= p ? v.y / keep_probability : 0.0f;
      v.z = u32_to_unit_float(random.v[2]) >= p ? v.z / keep_probability : 0.0f;
      v.w = u32_to_unit_float(random.v[3]) >= p ? v.w / keep_probability : 0.0f;
      reinterpret_cast<float4*>(out)[b] = v;
    } else {
      for (int lane = 0; lane < 4 && first + lane < n; ++lane) {
        const bool keep = u32_to_unit_float(random.v[lane]) >= p;
        out[first + lane] = keep ? in[first + lane] / keep_probability : 0.0f;
      }
    }
  }
}

void apply_dropout_mask(int64_t n, const float* in, float p, uint64_t seed, uint64_t counter,
                        float* out) {
  if (n <= 0) return;
  const bool vectorised = aligned16(in) && aligned16(out);
  BUSI_LAUNCH(dropout_mask_kernel, grid_for((n + 3) / 4), kThreads, 0, n, in, p, seed, counter, out,
              vectorised);
}

}  // namespace

void dropout_forward(int64_t n, const float* x, float p, uint64_t seed, uint64_t counter,
                     float* y) {
  apply_dropout_mask(n, x, p, seed, counter, y);
}

// y = m x / (1 - p) with a fixed mask m, so dx = m dy / (1 - p): the same mask applied to dy.
void dropout_backward(int64_t n, const float* dy, float p, uint64_t seed, uint64_t counter,
                      float* dx) {
  apply_dropout_mask(n, dy, p, seed, counter, dx);
}

}  // namespace busi::cuda
