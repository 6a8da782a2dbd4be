// CUDA convolution, twin of kernels/cpu/conv.h: cuDNN by default (algorithms found once per
// shape and cached), or the hand-written implicit-GEMM kernel (conv_direct.cu) when selected
// with BUSI_CONV=handwritten.
#pragma once

#include "kernels/common/shapes.h"

namespace busi::cuda {

// y = conv(x, w) + b, then max(y, 0) when `relu` (conv2d_relu: the ReLU fused into the
// convolution's epilogue, one pass over y fewer).
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                    bool relu = false);
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db);

}  // namespace busi::cuda
