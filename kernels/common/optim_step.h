// One parameter element's SGD and Adam/AdamW update, the formula written once for the CPU loop
// (kernels/cpu/optim.cpp) and the fused CUDA kernels (kernels/cuda/optim.cu), which call these
// same functions on each element.
#pragma once

#include <cmath>

#include "kernels/common/host_device.h"
#include "kernels/common/optim_hyper.h"

namespace busi {

// SGD with momentum mu, weight decay wd (L2, added to the gradient) and optional Nesterov:
//   g = grad + wd p;   buf = first_step ? g : mu buf + g;
//   p -= lr (nesterov ? g + mu buf : buf)          (mu = 0: p -= lr g, and buf is not touched)
template <typename T>
BUSI_HOST_DEVICE inline void sgd_step(T& p, T grad, T* buf, T lr, T mu, T wd, bool nesterov,
                                      bool first_step) {
  const T g = grad + wd * p;
  if (mu == T(0)) {
    p -= lr * g;
    return;
  }
  const T b = first_step ? g : mu * *buf + g;
  *buf = b;
  p -= lr * (nesterov ? g + mu * b : b);
}

// Adam (decoupled = false: L2 added to the gradient) or AdamW (decoupled: p -= lr wd p first),
// with the bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t computed once per step by the caller:
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   p -= lr (m / c1) / (sqrt(v / c2) + eps)
template <typename T>
BUSI_HOST_DEVICE inline void adam_step(T& p, T grad, T& m, T& v, T lr, T b1, T b2, T eps, T wd,
                                       bool decoupled, T c1, T c2) {
  using std::sqrt;  // the float and double overloads; on the device CUDA's own
  T g = grad;
  if (decoupled) {
    p -= lr * wd * p;
  } else {
    g += wd * p;
  }
  m = b1 * m + (T(1) - b1) * g;
  v = b2 * v + (T(1) - b2) * g * g;
  const T m_hat = m / c1, v_hat = v / c2;
  p -= lr * m_hat / (sqrt(v_hat) + eps);
}

}  // namespace busi
