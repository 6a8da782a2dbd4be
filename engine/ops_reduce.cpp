// Reductions over all elements: sum and mean (the last step of every loss).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace busi {

// d(sum x)/dx_i = 1: the scalar gradient is spread over x's shape (a broadcast add onto zeros).
Tensor sum(const Tensor& x) {
  check_defined(x, "sum", "x");
  Tensor out = Tensor::empty({}, x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::sum_all(x.data(), out.data(), x.numel()));
  } else {
    out.data()[0] = cpu::sum_all<float>(x.data(), x.numel());
  }
  const Shape xs = x.shape();
  return record("sum", out, {x}, [xs](const Tensor& g) -> std::vector<Tensor> {
    return {add(Tensor::zeros(xs, g.device()), g)};
  });
}

// mean x = (sum x) / n.
Tensor mean(const Tensor& x) {
  check_defined(x, "mean", "x");
  BUSI_CHECK(x.numel() > 0, "mean: empty tensor ", shape_str(x.shape()));
  return scale(sum(x), 1.0f / static_cast<float>(x.numel()));
}

}  // namespace busi
