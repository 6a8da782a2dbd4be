// CPU reference kernels for the optimiser updates (element-wise over one parameter tensor),
// following PyTorch's definitions so results can be compared with it.
#pragma once

#include <cstdint>

#include "kernels/common/optim_hyper.h"

namespace busi::cpu {

// SGD:  g = grad + wd p;  buf = first_step ? g : momentum buf + g;
//       step = nesterov ? g + momentum buf : buf;  p -= lr step   (momentum 0: p -= lr g)
template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdHyper& h,
                bool first_step);

// Adam / AdamW (h.decoupled): with t = h.step,
//   AdamW: p -= lr wd p;   Adam: g = grad + wd p
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* m, T* v, const AdamHyper& h);

}  // namespace busi::cpu
