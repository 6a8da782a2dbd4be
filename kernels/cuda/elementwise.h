// CUDA kernels for element-wise ops; twins of kernels/cpu/elementwise.h (same names and math),
// on float device pointers, launched on the engine's compute stream.
#pragma once

#include <cstdint>

#include "kernels/common/broadcast.h"

namespace busi::cuda {

void binary_forward(BinaryOp op, const BroadcastShape& s, const float* a, const float* b,
                    float* out);
void binary_backward(BinaryOp op, const BroadcastShape& s, const float* a, const float* b,
                     const float* dy, float* da, int64_t a_numel, float* db, int64_t b_numel);
void scale_forward(const float* x, float s, float* y, int64_t n);
void add_scalar_forward(const float* x, float s, float* y, int64_t n);
void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);
// Sum of n values into out[0] (a device scalar), a warp-shuffle tree reduction.
void sum_all(const float* x, float* out, int64_t n);

}  // namespace busi::cuda
