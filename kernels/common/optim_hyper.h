// Hyper-parameters of the optimiser update kernels (CPU and CUDA), and the description of one
// parameter tensor handed to the fused multi-tensor CUDA updates.
#pragma once

#include <cstdint>

namespace busi {

struct SgdHyper {
  float lr = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;  // L2 penalty added to the gradient
  bool nesterov = false;
};

struct AdamHyper {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // false: Adam (L2 added to the gradient); true: AdamW
  int64_t step = 1;        // 1 on the first update (bias correction)
};

// One parameter for a fused update: its data, gradient and optimiser state buffers (device
// pointers on CUDA). state2 is unused by SGD.
struct ParamSlot {
  float* param;
  const float* grad;
  float* state1;  // SGD momentum buffer, or Adam's first moment m
  float* state2;  // Adam's second moment v
  int64_t n;
};

}  // namespace busi
