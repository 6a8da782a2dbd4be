// The CUDA-vs-CPU parity harness shared by the tests/test_cuda_*.cpp files: one routine runs an
// op on CPU tensors and on CUDA copies of the same random inputs, backpropagates the same random
// upstream gradient on both, and compares the forward output and every input gradient with the
// CPU reference (the ground truth) within a per-op tolerance. Also: the TF32-off guard and the
// closeness measure; BUSI_REQUIRE_GPU() comes from tests/gpu_skip.h.
//
// Closeness is the normwise relative error max_i |got_i - want_i| / max_i |want_i|: entries near
// zero are the result of cancellation, and their last bits are noise whatever the order of the
// sums, so they are judged against the scale of the whole tensor (the usual measure for comparing
// two floating-point implementations of one linear-algebra result). Exact ops use tolerance 0.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "tests/gpu_skip.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi::test {

// Switches TF32 off for its scope (parity needs plain FP32 products) and restores the previous
// setting. A no-op in a build without CUDA.
class Tf32Off {
 public:
#ifdef BUSI_WITH_CUDA
  Tf32Off() : previous_(cuda::tf32_enabled()) { cuda::set_tf32(false); }
  ~Tf32Off() { cuda::set_tf32(previous_); }

 private:
  bool previous_;
#else
  // User-provided (not defaulted), so a guard variable is not reported as unused.
  Tf32Off() {}
  ~Tf32Off() {}
#endif
};

// Runs `body` with the hand-written GEMM (or convolution) selected instead of cuBLAS (cuDNN),
// restoring the previous choice afterwards. In a build without CUDA it just runs `body`.
inline void with_handwritten_gemm(const std::function<void()>& body) {
#ifdef BUSI_WITH_CUDA
  const cuda::GemmBackend previous = cuda::gemm_backend();
  cuda::set_gemm_backend(cuda::GemmBackend::Handwritten);
  try {
    body();
  } catch (...) {
    cuda::set_gemm_backend(previous);
    throw;
  }
  cuda::set_gemm_backend(previous);
#else
  body();
#endif
}
inline void with_handwritten_conv(const std::function<void()>& body) {
#ifdef BUSI_WITH_CUDA
  const cuda::ConvBackend previous = cuda::conv_backend();
  cuda::set_conv_backend(cuda::ConvBackend::Handwritten);
  try {
    body();
  } catch (...) {
    cuda::set_conv_backend(previous);
    throw;
  }
  cuda::set_conv_backend(previous);
#else
  body();
#endif
}

// max |got - want| / max |want| (or the plain max |got - want| when want is all zeros).
inline double normwise_error(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(g) != std::isnan(w)) return INFINITY;
    if (!std::isnan(w)) diff = std::max(diff, std::abs(g - w));
    scale = std::max(scale, std::abs(w));
  }
  return scale > 0.0 ? diff / scale : diff;
}

// CHECKs that `got` (any device) matches the CPU reference `want` within `tol`.
inline void expect_close(const std::string& what, const Tensor& got, const Tensor& want,
                         double tol) {
  REQUIRE(got.defined());
  REQUIRE(want.defined());
  CHECK_MESSAGE(got.shape() == want.shape(),
                what << ": shape " << shape_str(got.shape()) << " vs " << shape_str(want.shape()));
  if (got.shape() != want.shape()) return;
  const double err = normwise_error(got.to_vector(), want.to_vector());
  INFO(what << " " << shape_str(want.shape()) << ": normwise relative error " << err
            << " (tolerance " << tol << ")");
  CHECK(err <= tol);
}

// Uniform random CPU tensor in [lo, hi) from a seed.
inline Tensor uniform_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Generator gen(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(gen.uniform(lo, hi));
  return Tensor::from_vector(v, shape);
}

// A small deterministic hash of a test's name, to seed its random data.
inline uint64_t seed_of(const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// One op to compare. `inputs` are CPU tensors (copied, never modified); `wants_grad[i]` says
// whether input i takes part in the backward (default: all). `op` must work on either device.
struct ParityCase {
  std::string name;
  std::vector<Tensor> inputs;
  std::vector<bool> wants_grad;
  std::function<Tensor(const std::vector<Tensor>&)> op;
  double forward_tol = 1e-5;
  double grad_tol = 1e-5;
  bool backward = true;
};

// A case with default settings: every input gets a gradient, tolerance `tol` for both checks.
inline ParityCase parity_case(const std::string& name, std::vector<Tensor> inputs,
                              std::function<Tensor(const std::vector<Tensor>&)> op,
                              double tol = 1e-5) {
  ParityCase c;
  c.name = name;
  c.inputs = std::move(inputs);
  c.op = std::move(op);
  c.forward_tol = c.grad_tol = tol;
  return c;
}

// Runs the case on both devices and compares output and gradients (see the file comment).
inline void check_parity(const ParityCase& c) {
  Tf32Off tf32_off;
  const size_t n = c.inputs.size();
  auto wants = [&](size_t i) { return c.wants_grad.empty() || c.wants_grad[i]; };
  std::vector<Tensor> cpu_in(n), gpu_in(n);
  for (size_t i = 0; i < n; ++i) {
    cpu_in[i] = c.inputs[i].clone();
    gpu_in[i] = c.inputs[i].to(Device::cuda());
    if (c.backward && wants(i)) {
      cpu_in[i].set_requires_grad(true);
      gpu_in[i].set_requires_grad(true);
    }
  }
  const Tensor y_cpu = c.op(cpu_in);
  const Tensor y_gpu = c.op(gpu_in);
  REQUIRE(y_gpu.is_cuda());
  expect_close(c.name + " forward", y_gpu, y_cpu, c.forward_tol);
  if (!c.backward) return;
  // The same upstream gradient on both devices: every output's gradient is checked at once.
  const Tensor g = uniform_tensor(y_cpu.shape(), seed_of(c.name) + 1);
  y_cpu.backward(g);
  y_gpu.backward(g.to(Device::cuda()));
  for (size_t i = 0; i < n; ++i) {
    if (!wants(i)) continue;
    const std::string what = c.name + " d(input " + std::to_string(i) + ")";
    REQUIRE_MESSAGE(cpu_in[i].grad().defined(), what << ": no CPU gradient");
    REQUIRE_MESSAGE(gpu_in[i].grad().defined(), what << ": no CUDA gradient");
    CHECK(gpu_in[i].grad().is_cuda());
    expect_close(what, gpu_in[i].grad(), cpu_in[i].grad(), c.grad_tol);
  }
}

// True when cuBLAS and cuDNN can run (a real GPU). On the emulated device, which has neither,
// it says once per test case which comparison did not run and why, and returns false.
inline bool libraries_run(const std::string& what) {
#ifdef BUSI_WITH_CUDA
  if (cuda::libraries_available()) return true;
  MESSAGE("not run here: " << what
                           << " (cuBLAS and cuDNN need a real GPU; the emulated device runs the "
                              "hand-written kernels only)");
#else
  (void)what;
#endif
  return false;
}

// A random integer in [lo, hi] for shape choices.
inline int64_t random_int(Generator& gen, int64_t lo, int64_t hi) {
  return lo + gen.randint(hi - lo + 1);
}

}  // namespace busi::test
