// CUDA pooling kernels, twins of kernels/cpu/pool.h (same tie rule for max pooling; max pooling
// keeps its argmax from the forward for the backward).
#pragma once

#include <cstdint>

#include "kernels/common/shapes.h"

namespace busi::cuda {

// y (N, C, Ho, Wo) and argmax (N, C, Ho, Wo): each window's first maximum and its index
// h * W + v in the plane, which the backward reads instead of rescanning x.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax);
// dx (N, C, H, W), overwritten: dy routed to each window's saved argmax (0 elsewhere).
void max_pool2d_backward(const Pool2dShape& s, const int32_t* argmax, const float* dy, float* dx);
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);
void global_avg_pool2d_forward(int64_t N, int64_t C, int64_t HW, const float* x, float* y);
void global_avg_pool2d_backward(int64_t N, int64_t C, int64_t HW, const float* dy, float* dx);

}  // namespace busi::cuda
