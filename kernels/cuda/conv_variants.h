// The two convolution implementations behind cuda::conv2d_forward / conv2d_backward (conv.h),
// callable directly so tests and the benchmark can compare them whatever BUSI_CONV says:
//   - cuDNN (conv.cu): algorithms found once per shape and cached;
//   - hand-written implicit GEMM (conv_direct.cu): the tiled SGEMM core reading the image as
//     its im2col matrix on the fly.
// Same contract as conv.h and kernels/cpu/conv.h: b, dx, dw, db may be null; `relu` applies
// max(y, 0) after the bias.
#pragma once

#include "kernels/common/shapes.h"

namespace busi::cuda {

void conv2d_forward_cudnn(const Conv2dShape& s, const float* x, const float* w, const float* b,
                          float* y, bool relu = false);
void conv2d_backward_cudnn(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                           float* dx, float* dw, float* db);

void conv2d_forward_handwritten(const Conv2dShape& s, const float* x, const float* w,
                                const float* b, float* y, bool relu = false);
void conv2d_backward_handwritten(const Conv2dShape& s, const float* x, const float* w,
                                 const float* dy, float* dx, float* dw, float* db);

// y (N, O, P) = y + b[o] (b may be null), then max(y, 0) when `relu`; one vectorised pass queued
// on the compute stream: the epilogue of the cuDNN path (conv.cu).
void add_bias_relu(int64_t N, int64_t O, int64_t P, const float* b, bool relu, float* y);

}  // namespace busi::cuda
