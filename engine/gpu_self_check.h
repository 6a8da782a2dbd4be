// The GPU self-check: before a tool trusts a GPU it has not checked (a new GPU, driver or build),
// the engine's main kernels run once on small inputs there and on the CPU reference, and the
// results must agree. A mismatch names the kernel and the error; --device auto then falls back to
// the CPU with a warning and --device cuda stops (engine/device.cpp). About a second, and the
// verdict is cached per GPU, driver and executable, so it is paid once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"

namespace busi {

// One check: `run` computes an op (and its gradients) on `device` from inputs it draws from a
// fixed seed, and returns the tensors to compare; the CPU's results are the reference.
struct SelfCheckCase {
  std::string name;  // "conv2d (cuDNN) forward and backward"
  std::function<std::vector<Tensor>(Device device)> run;
  double tolerance = 1e-4;  // on max |gpu - cpu| / max |cpu| over each returned tensor
};

struct SelfCheckResult {
  bool passed = true;
  std::string failure;             // the first mismatch: kernel, tensor, error and tolerance
  std::vector<std::string> lines;  // one per case: "ok   conv2d ... max error 3.1e-07 (1.2 ms)"
  double seconds = 0.0;
  bool from_cache = false;
};

// The engine's main kernels at small sizes: matrix product, convolution forward and backward
// (with bias, with the fused ReLU), batch norm in training, max pooling, softmax cross-entropy
// with class weights and smoothing, an AdamW step.
std::vector<SelfCheckCase> gpu_self_check_cases();

// Runs `cases` on `gpu` and on the CPU, TF32 off (as the parity tests: TF32's 10-bit products
// would not meet the tolerance; the self-check is about right answers, not the math mode).
// An exception inside a case is a failure naming it.
SelfCheckResult run_self_check(const std::vector<SelfCheckCase>& cases, Device gpu);

// run_self_check of gpu_self_check_cases() on cuda:0, or its cached verdict for this GPU, driver
// and executable (a line of $BUSI_CACHE_DIR, else $XDG_CACHE_HOME/busi-engine, else
// ~/.cache/busi-engine, file gpu-self-check.tsv). BUSI_GPU_SELF_CHECK=off skips it (passed).
SelfCheckResult cached_gpu_self_check();

// The device for a --device flag, given why no GPU is usable ("" when one is) and the self-check
// to consult before a GPU is used. choose_device (device.h) calls it with cached_gpu_self_check;
// tests call it with a planted failure.
Device decide_device(const std::string& flag, const std::string& unusable_reason,
                     const std::function<SelfCheckResult()>& self_check);

}  // namespace busi
