// Shape ops: reshape and flatten are views (no copy); their gradient is reshaped back.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace busi {

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape", "x");
  Tensor y = x.view(shape);
  const Shape xs = x.shape();
  return record("reshape", y, {x},
                [xs](const Tensor& g) -> std::vector<Tensor> { return {g.view(xs)}; });
}

Tensor flatten(const Tensor& x) {
  check_defined(x, "flatten", "x");
  BUSI_CHECK(x.dim() >= 1, "flatten: needs at least one dimension, got ", shape_str(x.shape()));
  return reshape(x, {x.size(0), -1});
}

}  // namespace busi
