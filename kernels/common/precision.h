// The math precision of the GEMM-based kernels (matmul, linear, convolution, on the CPU and the
// CUDA device): one process-wide switch that every such kernel reads when it starts.
//   FP32  operands and products in float32 (TF32 on the GPU follows its own switch);
//   BF16  the two operands of each GEMM rounded to bf16 (kernels/common/bf16.h), products and
//         sums in FP32, outputs FP32 (mixed precision as PyTorch's autocast: everything else,
//         including every reduction and the optimiser, stays FP32).
// Kernels only read it; engine/precision.h is where it is set (with the hardware check and the
// start-up line). Global, not per thread: the kernels' OpenMP workers must see the caller's mode.
#pragma once

#include <atomic>

namespace busi {

enum class Precision { FP32, BF16 };

inline std::atomic<int>& precision_state() {
  static std::atomic<int> state{static_cast<int>(Precision::FP32)};
  return state;
}

inline Precision gemm_precision() {
  return static_cast<Precision>(precision_state().load(std::memory_order_relaxed));
}

inline bool bf16_gemms() { return gemm_precision() == Precision::BF16; }

}  // namespace busi
