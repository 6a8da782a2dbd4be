// Matrix products: matmul and linear. The math is in kernels/{cpu,cuda}/matmul.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/matmul.h"

namespace busi {

namespace {
float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined(a, "matmul", "a");
  check_defined(b, "matmul", "b");
  check_same_device(a, b, "matmul");
  BUSI_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "matmul: shapes ",
             shape_str(a.shape()), " and ", shape_str(b.shape()),
             " do not multiply (need (M, K) x (K, N))");
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor c = Tensor::empty({M, N}, a.device());
  if (a.is_cuda()) {
    BUSI_CUDA_CALL(cuda::matmul_forward(a.data(), b.data(), c.data(), M, K, N));
  } else {
    cpu::matmul_forward<float>(a.data(), b.data(), c.data(), M, K, N);
  }
  const Tensor sa = a.detach(), sb = b.detach();
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record("matmul", c, {a, b}, [=](const Tensor& g) {
    Tensor da = need_a ? Tensor::empty({M, K}, g.device()) : Tensor();
    Tensor db = need_b ? Tensor::empty({K, N}, g.device()) : Tensor();
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::matmul_backward(sa.data(), sb.data(), g.data(), data_or_null(da),
                                           data_or_null(db), M, K, N));
    } else {
      cpu::matmul_backward<float>(sa.data(), sb.data(), g.data(), data_or_null(da),
                                  data_or_null(db), M, K, N);
    }
    return std::vector<Tensor>{da, db};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined(x, "linear", "x");
  check_defined(weight, "linear", "weight");
  check_same_device(x, weight, "linear");
  BUSI_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), "linear: input ",
             shape_str(x.shape()), " does not match weight ", shape_str(weight.shape()),
             " (need input (N, in) and weight (out, in))");
  const int64_t N = x.size(0), in = x.size(1), out = weight.size(0);
  if (bias.defined()) {
    check_same_device(x, bias, "linear");
    BUSI_CHECK(bias.dim() == 1 && bias.size(0) == out, "linear: bias ", shape_str(bias.shape()),
               " does not match weight ", shape_str(weight.shape()));
  }
  Tensor y = Tensor::empty({N, out}, x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(
        cuda::linear_forward(x.data(), weight.data(), data_or_null(bias), y.data(), N, in, out));
  } else {
    cpu::linear_forward<float>(x.data(), weight.data(), data_or_null(bias), y.data(), N, in, out);
  }
  const Tensor sx = x.detach(), sw = weight.detach();
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record("linear", y, {x, weight, bias}, [=](const Tensor& g) {
    const Device dev = g.device();
    Tensor dx = need_x ? Tensor::empty({N, in}, dev) : Tensor();
    Tensor dw = need_w ? Tensor::empty({out, in}, dev) : Tensor();
    Tensor db = need_b ? Tensor::empty({out}, dev) : Tensor();
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::linear_backward(sx.data(), sw.data(), g.data(), data_or_null(dx),
                                           data_or_null(dw), data_or_null(db), N, in, out));
    } else {
      cpu::linear_backward<float>(sx.data(), sw.data(), g.data(), data_or_null(dx),
                                  data_or_null(dw), data_or_null(db), N, in, out);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace busi
