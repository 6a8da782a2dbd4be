// CUDA batch normalisation kernels, twins of kernels/cpu/batchnorm.h (same formulas; training
// statistics by Welford or two passes per channel).
#pragma once

#include <cstdint>

namespace busi::cuda {

void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                              const float* beta, float eps, float momentum, float* y,
                              float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var);
void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             float eps, float* y);
void batch_norm_backward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                               const float* save_mean, const float* save_invstd, const float* dy,
                               float* dx, float* dgamma, float* dbeta);
void batch_norm_backward_eval(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                              const float* running_mean, const float* running_var, float eps,
                              const float* dy, float* dx, float* dgamma, float* dbeta);

}  // namespace busi::cuda
