// Convolution: conv2d and conv2d_relu (the ReLU fused in), their argument checks and autograd
// wiring. The math is in kernels/{cpu,cuda}/conv.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/common/shapes.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/elementwise.h"

namespace busi {

namespace {

float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// Checks every argument of conv2d and returns the kernels' shape description.
Conv2dShape check_conv2d_args(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              int64_t stride, int64_t padding) {
  check_defined(x, "conv2d", "x");
  check_defined(weight, "conv2d", "weight");
  check_same_device(x, weight, "conv2d");
  BUSI_CHECK(x.dim() == 4, "conv2d: input ", shape_str(x.shape()), " must be (N, C, H, W)");
  BUSI_CHECK(weight.dim() == 4, "conv2d: weight ", shape_str(weight.shape()),
             " must be (O, C, kH, kW)");
  BUSI_CHECK(x.size(1) == weight.size(1), "conv2d: input ", shape_str(x.shape()), " has ",
             x.size(1), " channels but weight ", shape_str(weight.shape()), " expects ",
             weight.size(1));
  BUSI_CHECK(x.size(1) >= 1 && x.size(2) >= 1 && x.size(3) >= 1 && weight.size(0) >= 1 &&
                 weight.size(2) >= 1 && weight.size(3) >= 1,
             "conv2d: empty input ", shape_str(x.shape()), " or weight ",
             shape_str(weight.shape()));
  if (bias.defined()) {
    check_same_device(x, bias, "conv2d");
    BUSI_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "conv2d: bias ",
               shape_str(bias.shape()), " does not match the ", weight.size(0),
               " output channels of weight ", shape_str(weight.shape()));
  }
  BUSI_CHECK(stride >= 1, "conv2d: stride ", stride, " must be at least 1");
  BUSI_CHECK(padding >= 0, "conv2d: padding ", padding, " must not be negative");

  const int64_t H = x.size(2), W = x.size(3), kH = weight.size(2), kW = weight.size(3);
  // A kernel that fits the padded input gives at least one output position along each axis.
  BUSI_CHECK(kH <= H + 2 * padding && kW <= W + 2 * padding, "conv2d: kernel ", kH, "x", kW,
             " is larger than the padded input ", H + 2 * padding, "x", W + 2 * padding, " (input ",
             shape_str(x.shape()), ", padding ", padding, ")");
  const Conv2dShape s{.N = x.size(0),
                      .C = x.size(1),
                      .H = H,
                      .W = W,
                      .O = weight.size(0),
                      .kH = kH,
                      .kW = kW,
                      .stride = stride,
                      .pad = padding,
                      .Ho = conv_output_size(H, kH, stride, padding),
                      .Wo = conv_output_size(W, kW, stride, padding)};
  return s;
}

// The gradients of y = conv(x, w) + b from dL/dy (kernels/cpu/conv.h has them element by
// element): dx is the weight "transposed convolution" of dy, dW correlates dy with x, db sums dy
// over batch and positions. Only those asked for are computed (frozen weights, the input).
std::vector<Tensor> conv2d_gradients(const Conv2dShape& s, const Tensor& x, const Tensor& w,
                                     const Tensor& dy, bool need_x, bool need_w, bool need_b) {
  const Device dev = dy.device();
  Tensor dx = need_x ? Tensor::empty(x.shape(), dev) : Tensor();
  Tensor dw = need_w ? Tensor::empty(w.shape(), dev) : Tensor();
  Tensor db = need_b ? Tensor::empty({s.O}, dev) : Tensor();
  if (dy.is_cuda()) {
    BUSI_CUDA_CALL(cuda::conv2d_backward(s, x.data(), w.data(), dy.data(), data_or_null(dx),
                                         data_or_null(dw), data_or_null(db)));
  } else {
    cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), data_or_null(dx),
                                data_or_null(dw), data_or_null(db));
  }
  return {dx, dw, db};
}

// y = conv(x, w) + b, then max(y, 0) when `relu`.
Tensor conv2d_output(const Conv2dShape& s, const Tensor& x, const Tensor& weight,
                     const Tensor& bias, bool relu) {
  Tensor y = Tensor::empty({s.N, s.O, s.Ho, s.Wo}, x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(
        cuda::conv2d_forward(s, x.data(), weight.data(), data_or_null(bias), y.data(), relu));
  } else {
    cpu::conv2d_forward<float>(s, x.data(), weight.data(), data_or_null(bias), y.data());
    if (relu) cpu::relu_forward<float>(y.data(), y.data(), y.numel());
  }
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding) {
  const Conv2dShape s = check_conv2d_args(x, weight, bias, stride, padding);
  Tensor y = conv2d_output(s, x, weight, bias, false);
  const Tensor sx = x.detach(), sw = weight.detach();
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record("conv2d", y, {x, weight, bias}, [=](const Tensor& g) {
    return conv2d_gradients(s, sx, sw, g, need_x, need_w, need_b);
  });
}

// relu(conv2d(x, w, b)), the ReLU in the convolution's epilogue on a GPU (one pass over y fewer
// than conv2d then relu, and no pre-activation kept). The backward first masks the gradient,
// dz = dy where y > 0 (the ReLU's own rule: y > 0 exactly when the pre-activation is), then
// takes conv2d's gradients of dz.
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
                   int64_t padding) {
  const Conv2dShape s = check_conv2d_args(x, weight, bias, stride, padding);
  Tensor y = conv2d_output(s, x, weight, bias, true);
  const Tensor sx = x.detach(), sw = weight.detach(), sy = y.detach();
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record("conv2d_relu", y, {x, weight, bias}, [=](const Tensor& g) {
    Tensor dz = Tensor::empty(sy.shape(), g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::relu_backward(sy.data(), g.data(), dz.data(), sy.numel()));
    } else {
      cpu::relu_backward<float>(sy.data(), g.data(), dz.data(), sy.numel());
    }
    return conv2d_gradients(s, sx, sw, dz, need_x, need_w, need_b);
  });
}

}  // namespace busi
