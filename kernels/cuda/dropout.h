// CUDA dropout, twin of kernels/cpu/dropout.h: the same Philox mask, no state arrays.
#pragma once

#include <cstdint>

namespace busi::cuda {

void dropout_forward(int64_t n, const float* x, float p, uint64_t seed, uint64_t counter, float* y);
void dropout_backward(int64_t n, const float* dy, float p, uint64_t seed, uint64_t counter,
                      float* dx);

}  // namespace busi::cuda
