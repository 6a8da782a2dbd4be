// CUDA pooling kernels, twins of kernels/cpu/pool.h (same tie rule for max pooling).
#pragma once

#include <cstdint>

#include "kernels/common/shapes.h"

namespace busi::cuda {

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void max_pool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx);
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);
void global_avg_pool2d_forward(int64_t N, int64_t C, int64_t HW, const float* x, float* y);
void global_avg_pool2d_backward(int64_t N, int64_t C, int64_t HW, const float* dy, float* dx);

}  // namespace busi::cuda
