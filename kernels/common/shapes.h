// The shape descriptions passed to convolution and pooling kernels (CPU and CUDA alike), with
// the output-size rule in one place: out = (in + 2 pad - kernel) / stride + 1 (floor).
#pragma once

#include <cstdint>

namespace busi {

inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

// x (N, C, H, W) * w (O, C, kH, kW) -> y (N, O, Ho, Wo)
struct Conv2dShape {
  int64_t N, C, H, W;
  int64_t O, kH, kW;
  int64_t stride, pad;
  int64_t Ho, Wo;
};

// x (N, C, H, W) -> y (N, C, Ho, Wo), square window `kernel`
struct Pool2dShape {
  int64_t N, C, H, W;
  int64_t kernel, stride, pad;
  int64_t Ho, Wo;
};

}  // namespace busi
