// CUDA convolution, twin of kernels/cpu/conv.cpp: the entry points of conv.h, which dispatch to
// cuDNN (conv_cudnn.cu, the default on a GPU) or to the hand-written implicit GEMM
// (conv_direct.cu; BUSI_CONV=handwritten, and always on the emulated device).
#include "kernels/cuda/conv.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/runtime/backend_options.h"

namespace busi::cuda {

namespace {

// y (N, O, P) += b[o]: blocks step through the N*O planes (grid y), threads through a plane
// (grid x), so the channel of a plane is one division per block row, not one per element.
__global__ void add_channel_bias_kernel(int64_t planes, int64_t O, int64_t P, const float* b,
                                        float* y) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float bias = b[plane % O];
    float* y_plane = y + plane * P;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
         i += int64_t(gridDim.x) * blockDim.x)
      y_plane[i] += bias;
  }
}

}  // namespace

void add_channel_bias(int64_t N, int64_t O, int64_t P, const float* b, float* y) {
  const int64_t planes = N * O;
  if (planes == 0 || P == 0) return;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((P + kThreads - 1) / kThreads, 64)),
                  static_cast<unsigned>(std::min<int64_t>(planes, 65535)));
  BUSI_LAUNCH(add_channel_bias_kernel, grid, kThreads, 0, planes, O, P, b, y);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b,
                    float* y) {
  if (conv_backend() == ConvBackend::Handwritten)
    conv2d_forward_handwritten(s, x, w, b, y);
  else
    conv2d_forward_cudnn(s, x, w, b, y);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  if (conv_backend() == ConvBackend::Handwritten)
    conv2d_backward_handwritten(s, x, w, dy, dx, dw, db);
  else
    conv2d_backward_cudnn(s, x, w, dy, dx, dw, db);
}

}  // namespace busi::cuda
