// The shapes bench_kernels times: the layers of SimpleCNN and VGG16 at 224 x 224 and batch 32
// (the default), a few of them (--quick), or tiny ones that only check that every row runs
// (--smoke, which tools/bench/gpu_session.sh --dry-run uses on the emulated device).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace busi::tools {

struct GemmShape {
  const char* what;
  bool ta, tb;  // op(A) = A^T, op(B) = B^T
  int64_t M, N, K;
};

struct ConvLayer {  // 3x3, stride 1, padding 1 (every layer of both models), batch Sizes::batch
  const char* name;
  int64_t C, O, size;
};

struct Sizes {
  size_t copy_bytes = 0;        // the device-to-device copy that measures the bandwidth
  Shape big;                    // VGG16 block-1 activations (memory-bound kernels)
  Shape features;               // SimpleCNN's last features (global average pooling)
  int64_t head = 0;             // VGG16 head input values (dropout)
  std::vector<int64_t> params;  // parameter sizes for the fused optimisers
  std::vector<GemmShape> gemms;
  int64_t batch = 0;  // of the convolutions
  std::vector<ConvLayer> layers;
};

Sizes kernel_sizes(bool quick, bool smoke);

}  // namespace busi::tools
