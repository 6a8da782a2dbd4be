// Inverted dropout. The mask is a pure function of (seed, counter, element index) through
// Philox, so nothing is stored: the backward recomputes it (kernels/{cpu,cuda}/dropout).
#include <cstdint>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cuda/dropout.h"

namespace busi {

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  check_defined(x, "dropout", "x");
  // p = 1 would zero everything and divide by 1 - p = 0; NaN fails the comparison too.
  BUSI_CHECK(p >= 0.0f && p < 1.0f, "dropout: p = ", p, " is outside [0, 1)");
  if (!training || p == 0.0f) return x;

  const int64_t n = x.numel();
  // The generator hands out a fresh range of Philox counters: this call's mask is value i of
  // that range, and later calls get other ranges (other masks).
  const uint64_t seed = gen.seed();
  const uint64_t counter = gen.reserve(static_cast<uint64_t>(n));
  Tensor y = Tensor::empty(x.shape(), x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::dropout_forward(n, x.data(), p, seed, counter, y.data()));
  } else {
    cpu::dropout_forward<float>(n, x.data(), p, seed, counter, y.data());
  }
  // y = m x / (1 - p) with the mask m fixed, so dx = m dy / (1 - p): the same (seed, counter).
  const Shape shape = x.shape();
  return record("dropout", y, {x}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(shape, g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::dropout_backward(n, g.data(), p, seed, counter, dx.data()));
    } else {
      cpu::dropout_backward<float>(n, g.data(), p, seed, counter, dx.data());
    }
    return {dx};
  });
}

}  // namespace busi
