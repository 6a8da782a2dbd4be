// CUDA convolution, twin of kernels/cpu/conv.cpp: the entry points of conv.h, which dispatch to
// cuDNN (conv_cudnn.cu, the default on a GPU) or to the hand-written implicit GEMM
// (conv_direct.cu; BUSI_CONV=handwritten, and always on the emulated device), and the fused
// bias + ReLU epilogue that follows cuDNN's convolution. In BF16 mode (kernels/common/precision.h)
// every convolution takes the hand-written path, which rounds its operands to bf16 (tiled_gemm.h):
// cuDNN's bf16 convolutions want bf16 tensors in and out, and activations are stored as FP32 here
// (docs/bf16.md), so cuDNN is not used in BF16 mode yet.
#include "kernels/cuda/conv.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_variants.h"
#include "kernels/common/precision.h"
#include "kernels/cuda/runtime/backend_options.h"

namespace busi::cuda {

namespace {

// y (N, O, P) = y + b[o], then max(., 0) when kRelu: the epilogue of the cuDNN convolution (which
// leaves the bias to us) in one pass over y instead of a bias pass and a ReLU pass. Blocks step
// through the N*O planes (grid y), so the channel is one division per plane, not per element;
// threads run through a plane (grid x) four values at a time (float4) when the plane allows it.
// NaN > 0 is false, so a NaN becomes 0 exactly as the ReLU op does.
template <bool kRelu>
__device__ __forceinline__ float bias_relu(float v, float bias) {
  v += bias;
  return kRelu ? (v > 0.0f ? v : 0.0f) : v;
}

template <bool kRelu>
__global__ void bias_relu_kernel(int64_t planes, int64_t O, int64_t P, const float* b, float* y) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float bias = b ? b[plane % O] : 0.0f;
    float* y_plane = y + plane * P;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
         i += int64_t(gridDim.x) * blockDim.x)
      y_plane[i] = bias_relu<kRelu>(y_plane[i], bias);
  }
}

// The same with float4 loads and stores: P % 4 == 0 and y 16-byte aligned, so every plane starts
// on 16 bytes.
template <bool kRelu>
__global__ void bias_relu_vec4_kernel(int64_t planes, int64_t O, int64_t P4, const float* b,
                                      float4* y) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float bias = b ? b[plane % O] : 0.0f;
    float4* y_plane = y + plane * P4;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P4;
         i += int64_t(gridDim.x) * blockDim.x) {
      float4 v = y_plane[i];
      v.x = bias_relu<kRelu>(v.x, bias);
      v.y = bias_relu<kRelu>(v.y, bias);
      v.z = bias_relu<kRelu>(v.z, bias);
      v.w = bias_relu<kRelu>(v.w, bias);
      y_plane[i] = v;
    }
  }
}

}  // namespace

void add_bias_relu(int64_t N, int64_t O, int64_t P, const float* b, bool relu, float* y) {
  const int64_t planes = N * O;
  if (planes == 0 || P == 0 || (!b && !relu)) return;
  const bool vec4 = P % 4 == 0 && aligned16(y);
  const int64_t per_plane = vec4 ? P / 4 : P;
  const dim3 grid(
      static_cast<unsigned>(std::min<int64_t>((per_plane + kThreads - 1) / kThreads, 64)),
      static_cast<unsigned>(std::min<int64_t>(planes, 65535)));
  if (vec4 && relu)
    BUSI_LAUNCH(bias_relu_vec4_kernel<true>, grid, kThreads, 0, planes, O, per_plane, b,
                reinterpret_cast<float4*>(y));
  else if (vec4)
    BUSI_LAUNCH(bias_relu_vec4_kernel<false>, grid, kThreads, 0, planes, O, per_plane, b,
                reinterpret_cast<float4*>(y));
  else if (relu)
    BUSI_LAUNCH(bias_relu_kernel<true>, grid, kThreads, 0, planes, O, P, b, y);
  else
    BUSI_LAUNCH(bias_relu_kernel<false>, grid, kThreads, 0, planes, O, P, b, y);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                    bool relu) {
  if (conv_backend() == ConvBackend::Handwritten || bf16_gemms())
    conv2d_forward_handwritten(s, x, w, b, y, relu);
  else
    conv2d_forward_cudnn(s, x, w, b, y, relu);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  if (conv_backend() == ConvBackend::Handwritten || bf16_gemms())
    conv2d_backward_handwritten(s, x, w, dy, dx, dw, db);
  else
    conv2d_backward_cudnn(s, x, w, dy, dx, dw, db);
}

}  // namespace busi::cuda
