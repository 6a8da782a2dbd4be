// CPU reference kernels for batch normalisation over (N, C, HW) (see batchnorm.h). Each channel
// is independent, so every kernel runs one OpenMP task per channel and sums in double. The sums
// over a plane are `omp simd` reductions: one partial sum per vector lane, added together at the
// end, so that the additions do not wait for each other (a single running sum makes every
// addition wait for the previous one's 4-cycle latency). The result differs from the sequential
// sum only in rounding (in double, far below float's precision).
#include "kernels/cpu/batchnorm.h"

#include <cmath>

namespace busi::cpu {

namespace {

// Channel c of image n starts at element (n C + c) HW and holds HW contiguous values.
inline int64_t plane_offset(int64_t n, int64_t c, int64_t C, int64_t HW) {
  return (n * C + c) * HW;
}

// Channels are worth spreading over threads once the tensor is large enough to pay for it.
inline bool worth_parallel(int64_t N, int64_t C, int64_t HW) { return N * C * HW > 32768; }

// Mean and biased variance of channel c over its M = N*HW values. Two passes (mean first, then
// the squared deviations) in double: the one-pass E[x^2] - E[x]^2 loses every digit when the
// mean is large compared with the spread.
template <typename T>
void channel_statistics(int64_t N, int64_t C, int64_t HW, const T* x, int64_t c, double& mean,
                        double& var) {
  const double M = static_cast<double>(N * HW);
  double sum = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const T* plane = x + plane_offset(n, c, C, HW);
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < HW; ++i) sum += plane[i];
  }
  mean = sum / M;
  double squares = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const T* plane = x + plane_offset(n, c, C, HW);
#pragma omp simd reduction(+ : squares)
    for (int64_t i = 0; i < HW; ++i) {
      const double d = plane[i] - mean;
      squares += d * d;
    }
  }
  var = squares / M;
}

// y = scale * x + shift over channel c, where the caller folded gamma, beta and the statistics
// into scale = gamma invstd and shift = beta - mean scale.
template <typename T>
void apply_affine(int64_t N, int64_t C, int64_t HW, const T* x, int64_t c, double scale,
                  double shift, T* y) {
  for (int64_t n = 0; n < N; ++n) {
    const int64_t at = plane_offset(n, c, C, HW);
    for (int64_t i = 0; i < HW; ++i) y[at + i] = static_cast<T>(scale * x[at + i] + shift);
  }
}

// The two sums every backward needs for channel c: sum dy and sum dy xhat, with
// xhat = (x - mean) invstd.
template <typename T>
void channel_gradient_sums(int64_t N, int64_t C, int64_t HW, const T* x, const T* dy, int64_t c,
                           double mean, double invstd, double& sum_dy, double& sum_dy_xhat) {
  double s_dy = 0.0, s_dy_xhat = 0.0;  // locals: a reduction variable may not be a reference
  for (int64_t n = 0; n < N; ++n) {
    const int64_t at = plane_offset(n, c, C, HW);
#pragma omp simd reduction(+ : s_dy, s_dy_xhat)
    for (int64_t i = 0; i < HW; ++i) {
      s_dy += dy[at + i];
      s_dy_xhat += dy[at + i] * (x[at + i] - mean) * invstd;
    }
  }
  sum_dy = s_dy;
  sum_dy_xhat = s_dy_xhat;
}

}  // namespace

template <typename T>
void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                              const T* beta, T eps, T momentum, T* y, T* save_mean, T* save_invstd,
                              T* running_mean, T* running_var) {
  const int64_t M = N * HW;  // values per channel; the op guarantees M >= 2
  // Unbiased variance for the running estimate: var * M / (M - 1) (Bessel's correction).
  const double bessel = static_cast<double>(M) / static_cast<double>(M - 1);
  const double m = momentum;
#pragma omp parallel for schedule(static) if (worth_parallel(N, C, HW))
  for (int64_t c = 0; c < C; ++c) {
    double mean = 0.0, var = 0.0;
    channel_statistics(N, C, HW, x, c, mean, var);
    const double invstd = 1.0 / std::sqrt(var + eps);
    const double scale = gamma[c] * invstd;
    apply_affine(N, C, HW, x, c, scale, beta[c] - mean * scale, y);
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    running_mean[c] = static_cast<T>((1.0 - m) * running_mean[c] + m * mean);
    running_var[c] = static_cast<T>((1.0 - m) * running_var[c] + m * var * bessel);
  }
}

template <typename T>
void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var, T eps,
                             T* y) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, C, HW))
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    const double scale = gamma[c] * invstd;
    apply_affine(N, C, HW, x, c, scale, beta[c] - running_mean[c] * scale, y);
  }
}

// With xhat = (x - mean) invstd, y = gamma xhat + beta and M values per channel:
//   dbeta_c  = sum dy
//   dgamma_c = sum dy xhat
//   dx       = gamma invstd / M * (M dy - dbeta_c - xhat dgamma_c)
// The last two terms come from mean and invstd depending on every x of the channel.
template <typename T>
void batch_norm_backward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* dy, T* dx,
                               T* dgamma, T* dbeta) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for schedule(static) if (worth_parallel(N, C, HW))
  for (int64_t c = 0; c < C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    channel_gradient_sums(N, C, HW, x, dy, c, mean, invstd, sum_dy, sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (!dx) continue;
    const double factor = gamma[c] * invstd / M;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t at = plane_offset(n, c, C, HW);
      for (int64_t i = 0; i < HW; ++i) {
        const double xhat = (x[at + i] - mean) * invstd;
        dx[at + i] = static_cast<T>(factor * (M * dy[at + i] - sum_dy - xhat * sum_dy_xhat));
      }
    }
  }
}

// In eval mode the statistics are constants, so y is affine in x per channel:
//   dx = dy gamma / sqrt(r_var + eps),  dgamma = sum dy xhat,  dbeta = sum dy
// with xhat = (x - r_mean) / sqrt(r_var + eps).
template <typename T>
void batch_norm_backward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* dy,
                              T* dx, T* dgamma, T* dbeta) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, C, HW))
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    if (dgamma || dbeta) {
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      channel_gradient_sums(N, C, HW, x, dy, c, static_cast<double>(running_mean[c]), invstd,
                            sum_dy, sum_dy_xhat);
      if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
      if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    }
    if (!dx) continue;
    const double factor = gamma[c] * invstd;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t at = plane_offset(n, c, C, HW);
      for (int64_t i = 0; i < HW; ++i) dx[at + i] = static_cast<T>(factor * dy[at + i]);
    }
  }
}

#define BUSI_INSTANTIATE(T)                                                                 \
  template void batch_norm_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*,  \
                                            const T*, T, T, T*, T*, T*, T*, T*);            \
  template void batch_norm_forward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*,   \
                                           const T*, const T*, const T*, T, T*);            \
  template void batch_norm_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, \
                                             const T*, const T*, const T*, T*, T*, T*);     \
  template void batch_norm_backward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*,  \
                                            const T*, const T*, T, const T*, T*, T*, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
