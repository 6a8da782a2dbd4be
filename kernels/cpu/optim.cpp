// CPU reference kernels for the SGD and Adam/AdamW updates: each element's step is
// kernels/common/optim_step.h (the formulas), shared with the CUDA twin.
#include "kernels/cpu/optim.h"

#include <cmath>

#include "kernels/common/optim_step.h"

namespace busi::cpu {

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdHyper& h,
                bool first_step) {
  const T lr = h.lr, mu = h.momentum, wd = h.weight_decay;
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    sgd_step(param[i], grad[i], mu == T(0) ? nullptr : momentum_buf + i, lr, mu, wd, h.nesterov,
             first_step);
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* m, T* v, const AdamHyper& h) {
  const T b1 = h.beta1, b2 = h.beta2, lr = h.lr, wd = h.weight_decay, eps = h.eps;
  const T correction1 = T(1) - std::pow(b1, static_cast<T>(h.step));
  const T correction2 = T(1) - std::pow(b2, static_cast<T>(h.step));
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    adam_step(param[i], grad[i], m[i], v[i], lr, b1, b2, eps, wd, h.decoupled, correction1,
              correction2);
}

#define BUSI_INSTANTIATE(T)                                                      \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const SgdHyper&, bool); \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, const AdamHyper&);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
