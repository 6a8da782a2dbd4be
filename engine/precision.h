// The engine's math precision, one switch (kernels/common/precision.h holds it; this is where it
// is set and described): FP32, or BF16 mixed precision as PyTorch's autocast does it. In BF16 the
// operands of every GEMM and convolution product (activations, weights, the gradients fed to the
// backward products) are rounded to bf16 and multiplied with FP32 accumulation, outputs FP32;
// master weights, optimiser state, loss, softmax, batch-norm statistics and every other reduction
// stay FP32. Activations are still stored as FP32 tensors (docs/bf16.md: what is not done).
#pragma once

#include <string>

#include "engine/device.h"
#include "kernels/common/precision.h"

namespace busi {

const char* precision_name(Precision p);  // "fp32" or "bf16"

// The precision now, and the setter (between ops, not during one).
Precision precision();
void set_precision(Precision p);

// Sets a precision for its scope and restores the previous one (tests, the benchmark).
class ScopedPrecision {
 public:
  explicit ScopedPrecision(Precision p) : previous_(precision()) { set_precision(p); }
  ~ScopedPrecision() { set_precision(previous_); }
  ScopedPrecision(const ScopedPrecision&) = delete;
  ScopedPrecision& operator=(const ScopedPrecision&) = delete;

 private:
  Precision previous_;
};

// Whether `device` multiplies bf16 natively, and why (or why not), in one line:
//   CPU   AVX512-BF16 (vdpbf16ps), detected at run time;
//   CUDA  compute capability 8.0 or more (bf16 tensor cores); the emulated device has none
//         (it runs bf16 products as FP32 arithmetic on rounded operands, correct but not faster).
struct PrecisionSupport {
  bool bf16_native = false;
  std::string reason;
};
PrecisionSupport bf16_support(const Device& device);

// Whether bf16 products beat FP32 ones on this CPU: the instruction alone is not enough. On the
// project's Xeon (AVX512-BF16, no AMX exposed) vdpbf16ps issues at half the rate of FP32 FMAs,
// so its 2 products per lane give 0.5x the FP32 FMA peak (docs/bf16.md). Measured once per
// process (two 20 ms loops on one thread); `ratio` is bf16 dot GFLOP/s over FP32 FMA GFLOP/s.
// `faster` needs the ratio above kBf16RatioToPay. In BF16 mode only part of a step speeds up
// with it: the large 3x3 layers still run FP32 Winograd F(4x4, 3x3) (bf16 would amplify its
// rounding), the rest bf16 products, F(2x2) Winograd among them (kernels/cpu/conv.cpp). Measured
// at two ratios: at the Xeon's 0.5 bf16 was much slower (0.64x and 0.43x FP32, docs/bf16.md);
// at a 2-core EPYC's 2.0 the bf16 step was 1.14x FP32 on SimpleCNN and 1.08x on VGG16
// (docs/benchmarks.md, 2026-12-05 evening). VGG16's gain there is small, so the break-even is
// put just below, at 1.9 (an estimate: no CPU between the two was measured).
constexpr double kBf16RatioToPay = 1.9;
struct Bf16Speed {
  bool faster = false;
  double ratio = 0.0;
};
Bf16Speed cpu_bf16_speed();

// A --precision flag: "fp32", "bf16" or "auto" (bf16 where `device` multiplies bf16 natively
// and, on the CPU, faster than FP32; else fp32).
// `reason` says why, for the start-up line and the run's config. "bf16" on a device without
// native bf16 is honoured (the numbers are the same, only slower) and the reason says so. Anything
// else throws.
struct PrecisionChoice {
  Precision precision = Precision::FP32;
  std::string reason;
};
PrecisionChoice resolve_precision(const std::string& flag, const Device& device);

// The start-up line: "precision bf16 (auto: CPU has AVX512-BF16 ...)".
std::string precision_description(const PrecisionChoice& choice);

}  // namespace busi
