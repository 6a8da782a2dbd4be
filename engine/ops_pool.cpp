// Pooling: max_pool2d, avg_pool2d and global_avg_pool2d, their argument checks and autograd
// wiring. The math is in kernels/{cpu,cuda}/pool.
#include <memory>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/common/shapes.h"
#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"

namespace busi {

namespace {

// Checks the arguments of max_pool2d / avg_pool2d (`op`) and returns the kernels' shape
// description; stride 0 stands for stride = kernel.
Pool2dShape check_pool2d_args(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                              const char* op) {
  check_defined(x, op, "x");
  BUSI_CHECK(x.dim() == 4, op, ": input ", shape_str(x.shape()), " must be (N, C, H, W)");
  BUSI_CHECK(kernel >= 1, op, ": kernel ", kernel, " must be at least 1");
  BUSI_CHECK(stride >= 0, op, ": stride ", stride,
             " must be at least 1 (or 0 for the kernel size)");
  BUSI_CHECK(padding >= 0, op, ": padding ", padding, " must not be negative");
  // More padding than half the window would allow windows made of padding only.
  BUSI_CHECK(padding <= kernel / 2, op, ": padding ", padding, " is more than half the kernel ",
             kernel, " (at most ", kernel / 2, ")");
  const int64_t H = x.size(2), W = x.size(3);
  BUSI_CHECK(H >= 1 && W >= 1, op, ": empty image in input ", shape_str(x.shape()));
  // A window that fits the padded input gives at least one output position along each axis.
  BUSI_CHECK(kernel <= H + 2 * padding && kernel <= W + 2 * padding, op, ": kernel ", kernel, "x",
             kernel, " is larger than the padded input ", H + 2 * padding, "x", W + 2 * padding,
             " (input ", shape_str(x.shape()), ", padding ", padding, ")");
  const int64_t step = stride == 0 ? kernel : stride;
  return Pool2dShape{.N = x.size(0),
                     .C = x.size(1),
                     .H = H,
                     .W = W,
                     .kernel = kernel,
                     .stride = step,
                     .pad = padding,
                     .Ho = conv_output_size(H, kernel, step, padding),
                     .Wo = conv_output_size(W, kernel, step, padding)};
}

}  // namespace

// The gradients of pooling are stated once, in kernels/common/pool_window.h. Max pooling's: the
// window's dL/dy goes to its first maximum (its argmax), nothing to the other inputs. The CPU
// recomputes it from the saved input (its 2x2 path is a few vector compares, and the input is
// kept anyway); CUDA saves it in the forward, an int32 per output, so its backward reads a
// quarter of the bytes and keeps no input (max_pool_backward_* in kernels/cuda/pool.cu).
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const Pool2dShape s = check_pool2d_args(x, kernel, stride, padding, "max_pool2d");
  Tensor y = Tensor::empty({s.N, s.C, s.Ho, s.Wo}, x.device());
  const Shape x_shape = x.shape();
  if (x.is_cuda()) {
    // (N, C, Ho, Wo) int32: raw storage, since tensors hold floats.
    auto argmax = std::make_shared<Storage>(
        static_cast<size_t>(s.N * s.C * s.Ho * s.Wo) * sizeof(int32_t), x.device());
    BUSI_CUDA_CALL(
        cuda::max_pool2d_forward(s, x.data(), y.data(), static_cast<int32_t*>(argmax->data())));
    return record("max_pool2d", y, {x}, [=](const Tensor& g) -> std::vector<Tensor> {
      Tensor dx = Tensor::empty(x_shape, g.device());  // the kernels write every element
      BUSI_CUDA_CALL(cuda::max_pool2d_backward(s, static_cast<const int32_t*>(argmax->data()),
                                               g.data(), dx.data()));
      return {dx};
    });
  }
  cpu::max_pool2d_forward<float>(s, x.data(), y.data());
  const Tensor sx = x.detach();
  return record("max_pool2d", y, {x}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x_shape, g.device());  // the kernel writes every element
    cpu::max_pool2d_backward<float>(s, sx.data(), g.data(), dx.data());
    return {dx};
  });
}

// Average pooling's gradient: kernels/common/pool_window.h.
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const Pool2dShape s = check_pool2d_args(x, kernel, stride, padding, "avg_pool2d");
  Tensor y = Tensor::empty({s.N, s.C, s.Ho, s.Wo}, x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::avg_pool2d_forward(s, x.data(), y.data()));
  } else {
    cpu::avg_pool2d_forward<float>(s, x.data(), y.data());
  }
  const Shape x_shape = x.shape();
  return record("avg_pool2d", y, {x}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x_shape, g.device());  // the kernel writes every element
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::avg_pool2d_backward(s, g.data(), dx.data()));
    } else {
      cpu::avg_pool2d_backward<float>(s, g.data(), dx.data());
    }
    return {dx};
  });
}

// Global average pooling, y[n, c] = mean of x[n, c, :, :]; its gradient: kernels/common/pool_window.h.
Tensor global_avg_pool2d(const Tensor& x) {
  check_defined(x, "global_avg_pool2d", "x");
  BUSI_CHECK(x.dim() == 4, "global_avg_pool2d: input ", shape_str(x.shape()),
             " must be (N, C, H, W)");
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  BUSI_CHECK(HW >= 1, "global_avg_pool2d: empty image in input ", shape_str(x.shape()));
  Tensor y = Tensor::empty({N, C}, x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::global_avg_pool2d_forward(N, C, HW, x.data(), y.data()));
  } else {
    cpu::global_avg_pool2d_forward<float>(N, C, HW, x.data(), y.data());
  }
  const Shape x_shape = x.shape();
  return record("global_avg_pool2d", y, {x}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x_shape, g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::global_avg_pool2d_backward(N, C, HW, g.data(), dx.data()));
    } else {
      cpu::global_avg_pool2d_backward<float>(N, C, HW, g.data(), dx.data());
    }
    return {dx};
  });
}

}  // namespace busi
