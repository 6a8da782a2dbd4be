// Batch normalisation: batch_norm2d for (N, C, H, W) or (N, C) inputs, training and eval. The
// math is in kernels/{cpu,cuda}/batchnorm.
#include <utility>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cuda/batchnorm.h"

namespace busi {

namespace {

float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// The kernels see any input as (N, C, HW): HW = H*W for images, 1 for (N, C) features.
struct BatchNormShape {
  int64_t N = 0, C = 0, HW = 1;
};

// Checks every argument of batch_norm2d and returns the (N, C, HW) view of x.
BatchNormShape check_batch_norm_args(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                     const Tensor& running_mean, const Tensor& running_var,
                                     bool training, float momentum, float eps) {
  const char* op = "batch_norm2d";
  check_defined(x, op, "x");
  check_defined(gamma, op, "gamma");
  check_defined(beta, op, "beta");
  check_defined(running_mean, op, "running_mean");
  check_defined(running_var, op, "running_var");
  BUSI_CHECK(x.dim() == 4 || x.dim() == 2, "batch_norm2d: input ", shape_str(x.shape()),
             " must be (N, C, H, W) or (N, C)");
  BatchNormShape s;
  s.N = x.size(0);
  s.C = x.size(1);
  if (x.dim() == 4) s.HW = x.size(2) * x.size(3);
  const Shape per_channel{s.C};
  const std::pair<const Tensor*, const char*> buffers[] = {{&gamma, "gamma"},
                                                           {&beta, "beta"},
                                                           {&running_mean, "running_mean"},
                                                           {&running_var, "running_var"}};
  for (const auto& [t, name] : buffers) {
    check_same_device(x, *t, op);
    BUSI_CHECK(t->shape() == per_channel, "batch_norm2d: ", name, " ", shape_str(t->shape()),
               " does not match the ", s.C, " channels of input ", shape_str(x.shape()), " (need ",
               shape_str(per_channel), ")");
  }
  BUSI_CHECK(momentum >= 0.0f && momentum <= 1.0f, "batch_norm2d: momentum ", momentum,
             " is outside [0, 1]");
  BUSI_CHECK(eps > 0.0f, "batch_norm2d: eps ", eps, " must be positive");
  // The batch variance of a single value is 0 and its unbiased version 0/0: training on it
  // is meaningless (PyTorch refuses it too).
  BUSI_CHECK(!training || s.N * s.HW >= 2,
             "batch_norm2d: training needs more than one value per channel, got input ",
             shape_str(x.shape()));
  return s;
}

// Training: normalise with the batch statistics, update the running ones, and record the
// training backward (mean and invstd saved from the forward).
Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                        BatchNormShape s) {
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), dev);
  Tensor save_mean = Tensor::empty({s.C}, dev);    // (C)
  Tensor save_invstd = Tensor::empty({s.C}, dev);  // (C)
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::batch_norm_forward_train(
        s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), eps, momentum, y.data(),
        save_mean.data(), save_invstd.data(), running_mean.data(), running_var.data()));
  } else {
    cpu::batch_norm_forward_train<float>(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), eps,
                                         momentum, y.data(), save_mean.data(), save_invstd.data(),
                                         running_mean.data(), running_var.data());
  }
  const Tensor sx = x.detach(), sgamma = gamma.detach();
  const bool need_x = x.requires_grad(), need_gamma = gamma.requires_grad(),
             need_beta = beta.requires_grad();
  return record("batch_norm2d", y, {x, gamma, beta}, [=](const Tensor& g) {
    const Device gdev = g.device();
    Tensor dx = need_x ? Tensor::empty(sx.shape(), gdev) : Tensor();
    Tensor dgamma = need_gamma ? Tensor::empty({s.C}, gdev) : Tensor();
    Tensor dbeta = need_beta ? Tensor::empty({s.C}, gdev) : Tensor();
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::batch_norm_backward_train(
          s.N, s.C, s.HW, sx.data(), sgamma.data(), save_mean.data(), save_invstd.data(), g.data(),
          data_or_null(dx), data_or_null(dgamma), data_or_null(dbeta)));
    } else {
      cpu::batch_norm_backward_train<float>(
          s.N, s.C, s.HW, sx.data(), sgamma.data(), save_mean.data(), save_invstd.data(), g.data(),
          data_or_null(dx), data_or_null(dgamma), data_or_null(dbeta));
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
}

// Eval: normalise with the running statistics and record the eval backward, so gradients still
// reach x (Grad-CAM differentiates a model in eval mode).
Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, float eps,
                       BatchNormShape s) {
  Tensor y = Tensor::empty(x.shape(), x.device());
  if (x.is_cuda()) {
    BUSI_CUDA_CALL(cuda::batch_norm_forward_eval(s.N, s.C, s.HW, x.data(), gamma.data(),
                                                 beta.data(), running_mean.data(),
                                                 running_var.data(), eps, y.data()));
  } else {
    cpu::batch_norm_forward_eval<float>(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(),
                                        running_mean.data(), running_var.data(), eps, y.data());
  }
  if (!any_requires_grad({x, gamma, beta})) return y;
  // The running buffers change in place at the next training step; the backward must see the
  // values this forward used, so it keeps its own copies (C values each).
  const Tensor sx = x.detach(), sgamma = gamma.detach();
  const Tensor saved_mean = running_mean.clone(), saved_var = running_var.clone();
  const bool need_x = x.requires_grad(), need_gamma = gamma.requires_grad(),
             need_beta = beta.requires_grad();
  return record("batch_norm2d", y, {x, gamma, beta}, [=](const Tensor& g) {
    const Device gdev = g.device();
    Tensor dx = need_x ? Tensor::empty(sx.shape(), gdev) : Tensor();
    Tensor dgamma = need_gamma ? Tensor::empty({s.C}, gdev) : Tensor();
    Tensor dbeta = need_beta ? Tensor::empty({s.C}, gdev) : Tensor();
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::batch_norm_backward_eval(
          s.N, s.C, s.HW, sx.data(), sgamma.data(), saved_mean.data(), saved_var.data(), eps,
          g.data(), data_or_null(dx), data_or_null(dgamma), data_or_null(dbeta)));
    } else {
      cpu::batch_norm_backward_eval<float>(
          s.N, s.C, s.HW, sx.data(), sgamma.data(), saved_mean.data(), saved_var.data(), eps,
          g.data(), data_or_null(dx), data_or_null(dgamma), data_or_null(dbeta));
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, float momentum, float eps) {
  const BatchNormShape s =
      check_batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum, eps);
  if (training)
    return batch_norm_train(x, gamma, beta, running_mean, running_var, momentum, eps, s);
  return batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, s);
}

}  // namespace busi
