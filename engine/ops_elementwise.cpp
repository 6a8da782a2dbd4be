// Element-wise ops with broadcasting: add, sub, mul, scale, add_scalar, relu. Each op runs the
// forward kernel of its device and records the matching backward kernel (kernels/*/elementwise).
#include <algorithm>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace busi {

namespace {

// Broadcast description of a (op) b: NumPy rules, shapes aligned on the right.
BroadcastShape make_broadcast(const Shape& a, const Shape& b, const char* op) {
  const size_t nd = std::max(a.size(), b.size());
  BUSI_CHECK(nd <= static_cast<size_t>(kMaxBroadcastDims), op, ": more than ", kMaxBroadcastDims,
             " dimensions");
  BroadcastShape s;
  s.ndim = static_cast<int>(nd);
  const Shape as = contiguous_strides(a), bs = contiguous_strides(b);
  for (size_t d = 0; d < nd; ++d) {
    // Output dimension d is a[d - (nd - a.size())] when that index exists (likewise for b).
    const int64_t ia = static_cast<int64_t>(d) - static_cast<int64_t>(nd - a.size());
    const int64_t ib = static_cast<int64_t>(d) - static_cast<int64_t>(nd - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    BUSI_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together (dimension ", d, ": ", da, " vs ", db, ")");
    s.out[d] = da == 1 ? db : da;  // not max(da, db): 0 with 1 broadcasts to 0
    s.a_stride[d] = (ia >= 0 && da != 1) ? as[ia] : 0;
    s.b_stride[d] = (ib >= 0 && db != 1) ? bs[ib] : 0;
    s.numel *= s.out[d];
  }
  return s;
}

Tensor binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_defined(a, name, "a");
  check_defined(b, name, "b");
  check_same_device(a, b, name);
  const BroadcastShape s = make_broadcast(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(Shape(s.out, s.out + s.ndim), a.device());
  if (a.is_cuda()) {
    BUSI_CUDA_CALL(cuda::binary_forward(op, s, a.data(), b.data(), out.data()));
  } else {
    cpu::binary_forward<float>(op, s, a.data(), b.data(), out.data());
  }
  const Tensor sa = a.detach(), sb = b.detach();
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record(name, out, {a, b}, [=](const Tensor& g) {
    Tensor da = need_a ? Tensor::empty(sa.shape(), g.device()) : Tensor();
    Tensor db = need_b ? Tensor::empty(sb.shape(), g.device()) : Tensor();
    float* pa = need_a ? da.data() : nullptr;
    float* pb = need_b ? db.data() : nullptr;
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::binary_backward(op, s, sa.data(), sb.data(), g.data(), pa, sa.numel(),
                                           pb, sb.numel()));
    } else {
      cpu::binary_backward<float>(op, s, sa.data(), sb.data(), g.data(), pa, sa.numel(), pb,
                                  sb.numel());
    }
    return std::vector<Tensor>{da, db};
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, "mul", a, b); }

// d(s x)/dx = s.
Tensor scale(const Tensor& x, float s) {
  check_defined(x, "scale", "x");
  Tensor y = Tensor::empty(x.shape(), x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::scale_forward(x.data(), s, y.data(), x.numel()));
  } else {
    cpu::scale_forward<float>(x.data(), s, y.data(), x.numel());
  }
  return record("scale", y, {x},
                [s](const Tensor& g) -> std::vector<Tensor> { return {scale(g, s)}; });
}

// d(x + s)/dx = 1.
Tensor add_scalar(const Tensor& x, float s) {
  check_defined(x, "add_scalar", "x");
  Tensor y = Tensor::empty(x.shape(), x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::add_scalar_forward(x.data(), s, y.data(), x.numel()));
  } else {
    cpu::add_scalar_forward<float>(x.data(), s, y.data(), x.numel());
  }
  return record("add_scalar", y, {x}, [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

// relu(x) = max(x, 0); the backward reads the saved output (y > 0 exactly where x > 0).
Tensor relu(const Tensor& x) {
  check_defined(x, "relu", "x");
  Tensor y = Tensor::empty(x.shape(), x.device());
  const int64_t n = x.numel();
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::relu_forward(x.data(), y.data(), n));
  } else {
    cpu::relu_forward<float>(x.data(), y.data(), n);
  }
  const Tensor saved = y.detach();
  return record("relu", y, {x}, [saved, n](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(saved.shape(), saved.device());
    if (saved.is_cuda()) {
      BUSI_CUDA_CALL(cuda::relu_backward(saved.data(), g.data(), dx.data(), n));
    } else {
      cpu::relu_backward<float>(saved.data(), g.data(), dx.data(), n);
    }
    return {dx};
  });
}

}  // namespace busi
