// CUDA reductions used by several ops (besides sum_all in elementwise.h): per-channel sums of an
// (N, C, HW) tensor, the bias gradient of convolution (dy (N, O, Ho*Wo)) and linear layers
// (dy (N, out) is (N, out, 1)). CPU twins: bias_gradient in kernels/cpu/conv.cpp and the db loop
// of kernels/cpu/matmul.cpp. Deterministic.
#pragma once

#include <cstdint>

namespace busi::cuda {

// out[c] = sum over n < N, i < HW of x[(n C + c) HW + i]
void channel_sums(int64_t N, int64_t C, int64_t HW, const float* x, float* out);

}  // namespace busi::cuda
