// CPU reference kernels for batch normalisation over (N, C, HW): per channel c, statistics over
// the N*HW values of that channel.
#pragma once

#include <cstdint>

namespace busi::cpu {

// Training: mean_c and biased var_c of the batch; y = gamma (x - mean) / sqrt(var + eps) + beta.
// Saves mean and invstd = 1/sqrt(var + eps) (C each) for the backward, and updates the running
// statistics in place: r_mean = (1-m) r_mean + m mean, r_var = (1-m) r_var + m var * M/(M-1)
// (unbiased, M = N*HW), as PyTorch does.
template <typename T>
void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                              const T* beta, T eps, T momentum, T* y, T* save_mean, T* save_invstd,
                              T* running_mean, T* running_var);

// Eval: y = gamma (x - r_mean) / sqrt(r_var + eps) + beta.
template <typename T>
void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var, T eps,
                             T* y);

// Training backward, with xhat = (x - mean) invstd and M = N*HW values per channel:
//   dbeta_c  = sum dy
//   dgamma_c = sum dy xhat
//   dx       = gamma invstd / M * (M dy - dbeta_c - xhat dgamma_c)
// (the batch statistics depend on every x, hence the two correction terms). dx, dgamma, dbeta
// may be null.
template <typename T>
void batch_norm_backward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* dy, T* dx,
                               T* dgamma, T* dbeta);

// Eval backward (statistics are constants): dx = dy gamma / sqrt(r_var + eps);
// dgamma = sum dy xhat, dbeta = sum dy with xhat from the running statistics. Outputs nullable.
template <typename T>
void batch_norm_backward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* dy,
                              T* dx, T* dgamma, T* dbeta);

}  // namespace busi::cpu
