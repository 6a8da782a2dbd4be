// CPU reference kernels for the SGD and Adam/AdamW updates (see optim.h for the formulas).
#include "kernels/cpu/optim.h"

#include <cmath>

namespace busi::cpu {

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdHyper& h,
                bool first_step) {
  const T lr = h.lr, mu = h.momentum, wd = h.weight_decay;
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i] + wd * param[i];
    if (mu == T(0)) {
      param[i] -= lr * g;
      continue;
    }
    const T buf = first_step ? g : mu * momentum_buf[i] + g;
    momentum_buf[i] = buf;
    param[i] -= lr * (h.nesterov ? g + mu * buf : buf);
  }
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* m, T* v, const AdamHyper& h) {
  const T b1 = h.beta1, b2 = h.beta2, lr = h.lr, wd = h.weight_decay, eps = h.eps;
  const T correction1 = T(1) - std::pow(b1, static_cast<T>(h.step));
  const T correction2 = T(1) - std::pow(b2, static_cast<T>(h.step));
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (h.decoupled) {
      param[i] -= lr * wd * param[i];
    } else {
      g += wd * param[i];
    }
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    const T m_hat = m[i] / correction1, v_hat = v[i] / correction2;
    param[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

#define BUSI_INSTANTIATE(T)                                                      \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const SgdHyper&, bool); \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, const AdamHyper&);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
