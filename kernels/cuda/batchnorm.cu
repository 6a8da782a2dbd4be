// CUDA batch normalisation over (N, C, HW), twin of kernels/cpu/batchnorm.cpp with the same
// arithmetic: per-channel statistics by two passes (mean, then squared deviations) accumulated in
// double, per-channel coefficients in double, and element-wise kernels that apply them. The
// per-channel sums use the deterministic two-stage reduction of channel_reduce.cuh. Kernels:
//   stage-1 sums (channel_partial_sums) -> a per-channel "finish" kernel (one thread per channel:
//   adds the partial sums, computes mean / invstd / coefficients, updates running statistics)
//   -> an element-wise "apply" kernel.
#include <cuda_runtime.h>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/channel_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace busi::cuda {

namespace {

// ---- Terms of the per-channel sums --------------------------------------------------------------

struct SumX {  // sum x
  const float* x;
  __device__ void operator()(int64_t, int64_t i, double (&acc)[1]) const { acc[0] += x[i]; }
};

struct SumSquaredDeviation {  // sum (x - mean_c)^2
  const float* x;
  const double* mean;  // (C)
  __device__ void operator()(int64_t c, int64_t i, double (&acc)[1]) const {
    const double d = x[i] - mean[c];
    acc[0] += d * d;
  }
};

// sum dy and sum dy xhat with xhat = (x - mean_c) invstd_c
struct GradientSums {
  const float* x;
  const float* dy;
  const double* mean;    // (C)
  const double* invstd;  // (C)
  __device__ void operator()(int64_t c, int64_t i, double (&acc)[2]) const {
    acc[0] += dy[i];
    acc[1] += dy[i] * (x[i] - mean[c]) * invstd[c];
  }
};

// Per-channel doubles kept between the kernels of one call: (kCount, C).
struct Coefficients {
  DeviceBuffer buffer;
  int64_t C;
  Coefficients(int count, int64_t channels)
      : buffer(static_cast<size_t>(count * channels) * sizeof(double)), C(channels) {}
  double* row(int r) const { return buffer.as<double>() + r * C; }
};

// ---- Per-channel finishing kernels (one thread per channel) -------------------------------------

__global__ void mean_kernel(const double* partial, int64_t S, int64_t C, double M, double* mean) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count())
    mean[c] = channel_total(partial, S, C, 0, c) / M;
}

// var = sum (x - mean)^2 / M (biased); invstd = 1 / sqrt(var + eps); y = scale x + shift with
// scale = gamma invstd, shift = beta - mean scale. Running statistics (unbiased variance):
// r = (1 - m) r + m stat.
__global__ void finish_train_forward_kernel(const double* partial, int64_t S, int64_t C, double M,
                                            const double* mean, const float* gamma,
                                            const float* beta, float eps, float momentum,
                                            double* scale, double* shift, float* save_mean,
                                            float* save_invstd, float* running_mean,
                                            float* running_var) {
  const double bessel = M / (M - 1.0);
  const double m = momentum;
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count()) {
    const double var = channel_total(partial, S, C, 0, c) / M;
    const double invstd = 1.0 / sqrt(var + eps);
    scale[c] = gamma[c] * invstd;
    shift[c] = beta[c] - mean[c] * scale[c];
    save_mean[c] = static_cast<float>(mean[c]);
    save_invstd[c] = static_cast<float>(invstd);
    running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean[c]);
    running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * var * bessel);
  }
}

// Eval: invstd from the running variance; scale and shift as in training.
__global__ void eval_coefficients_kernel(int64_t C, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var,
                                         float eps, double* scale, double* shift) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count()) {
    const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    scale[c] = gamma[c] * invstd;
    shift[c] = beta[c] - running_mean[c] * scale[c];
  }
}

// The saved float statistics as doubles, for the gradient sums.
__global__ void widen_kernel(int64_t C, const float* mean, const float* invstd, double* mean_d,
                             double* invstd_d) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count()) {
    mean_d[c] = mean[c];
    invstd_d[c] = invstd[c];
  }
}

// Eval statistics: mean = running mean, invstd = 1 / sqrt(running var + eps).
__global__ void eval_statistics_kernel(int64_t C, const float* running_mean,
                                       const float* running_var, float eps, double* mean_d,
                                       double* invstd_d) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count()) {
    mean_d[c] = running_mean[c];
    invstd_d[c] = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
  }
}

// dbeta = sum dy, dgamma = sum dy xhat (either may be null), and the dx factor gamma invstd / M
// (training) or gamma invstd (eval, M = 1).
__global__ void finish_backward_kernel(const double* partial, int64_t S, int64_t C, double M,
                                       const float* gamma, const double* invstd, float* dgamma,
                                       float* dbeta, double* sum_dy, double* sum_dy_xhat,
                                       double* factor) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count()) {
    sum_dy[c] = channel_total(partial, S, C, 0, c);
    sum_dy_xhat[c] = channel_total(partial, S, C, 1, c);
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy[c]);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat[c]);
    factor[c] = gamma[c] * invstd[c] / M;
  }
}

// ---- Element-wise kernels -----------------------------------------------------------------------
// ---------------------------------------------------------------------------- Element i of (N, C,
// HW) is in channel (i / HW) % C. Index is uint32_t when the tensor has fewer than 2^31 elements
// (32-bit division is several times cheaper), else int64_t.

// y = scale_c x + shift_c
template <typename Index>
__global__ void apply_affine_kernel(Index total, Index C, Index HW, const float* x,
                                    const double* scale, const double* shift, float* y) {
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < total; i += step) {
    const Index c = (i / HW) % C;
    y[i] = static_cast<float>(scale[c] * x[i] + shift[c]);
  }
}

// The same with float4 when HW % 4 == 0 and x, y are aligned: the four values of a float4 are
// in one channel. Index counts float4s.
template <typename Index>
__global__ void apply_affine_vec4_kernel(Index total4, Index C, Index HW4, const float4* x,
                                         const double* scale, const double* shift, float4* y) {
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < total4; i += step) {
    const Index c = (i / HW4) % C;
    const double a = scale[c], b = shift[c];
    const float4 v = x[i];
    y[i] = make_float4(static_cast<float>(a * v.x + b), static_cast<float>(a * v.y + b),
                       static_cast<float>(a * v.z + b), static_cast<float>(a * v.w + b));
  }
}

// Training: dx = factor_c (M dy - sum_dy_c - xhat sum_dy_xhat_c), xhat = (x - mean_c) invstd_c.
template <typename Index>
__global__ void train_dx_kernel(Index total, Index C, Index HW, double M, const float* x,
                                const float* dy, const double* mean, const double* invstd,
                                const double* sum_dy, const double* sum_dy_xhat,
                                const double* factor, float* dx) {
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < total; i += step) {
    const Index c = (i / HW) % C;
    const double xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = static_cast<float>(factor[c] * (M * dy[i] - sum_dy[c] - xhat * sum_dy_xhat[c]));
  }
}

// The same with float4 when HW % 4 == 0 and x, dy, dx are aligned (one channel per float4).
template <typename Index>
__global__ void train_dx_vec4_kernel(Index total4, Index C, Index HW4, double M, const float4* x,
                                     const float4* dy, const double* mean, const double* invstd,
                                     const double* sum_dy, const double* sum_dy_xhat,
                                     const double* factor, float4* dx) {
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < total4; i += step) {
    const Index c = (i / HW4) % C;
    const double m = mean[c], s = invstd[c], f = factor[c], a = sum_dy[c], b = sum_dy_xhat[c];
    const float4 xv = x[i], g = dy[i];
    const float xs[4] = {xv.x, xv.y, xv.z, xv.w}, gs[4] = {g.x, g.y, g.z, g.w};
    float out[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const double xhat = (xs[k] - m) * s;
      out[k] = static_cast<float>(f * (M * gs[k] - a - xhat * b));
    }
    dx[i] = make_float4(out[0], out[1], out[2], out[3]);
  }
}

// Eval: dx = factor_c dy with factor_c = gamma_c invstd_c.
template <typename Index>
__global__ void eval_dx_kernel(Index total, Index C, Index HW, const float* dy,
                               const double* factor, float* dx) {
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < total; i += step)
    dx[i] = static_cast<float>(factor[(i / HW) % C] * dy[i]);
}

// 32-bit indices when i + (grid stride) cannot wrap: total < 2^31 - 2^24.
bool small_index(int64_t total) { return total < (int64_t(1) << 31) - (int64_t(1) << 24); }

void apply_affine(int64_t N, int64_t C, int64_t HW, const float* x, const double* scale,
                  const double* shift, float* y) {
  const int64_t total = N * C * HW;
  if (HW % 4 == 0 && aligned16(x) && aligned16(y)) {
    const int64_t total4 = total / 4;
    if (small_index(total4))
      BUSI_LAUNCH(apply_affine_vec4_kernel<uint32_t>, grid_for(total4), kThreads, 0,
                  static_cast<uint32_t>(total4), static_cast<uint32_t>(C),
                  static_cast<uint32_t>(HW / 4), reinterpret_cast<const float4*>(x), scale, shift,
                  reinterpret_cast<float4*>(y));
    else
      BUSI_LAUNCH(apply_affine_vec4_kernel<int64_t>, grid_for(total4), kThreads, 0, total4, C,
                  HW / 4, reinterpret_cast<const float4*>(x), scale, shift,
                  reinterpret_cast<float4*>(y));
    return;
  }
  if (small_index(total))
    BUSI_LAUNCH(apply_affine_kernel<uint32_t>, grid_for(total), kThreads, 0,
                static_cast<uint32_t>(total), static_cast<uint32_t>(C), static_cast<uint32_t>(HW),
                x, scale, shift, y);
  else
    BUSI_LAUNCH(apply_affine_kernel<int64_t>, grid_for(total), kThreads, 0, total, C, HW, x, scale,
                shift, y);
}

// The backward's per-channel sums of dy and dy xhat, reduced into dgamma / dbeta and the rows
// sum_dy, sum_dy_xhat, factor of `coef` (rows 2, 3, 4; rows 0, 1 hold mean and invstd).
void gradient_sums(int64_t N, int64_t C, int64_t HW, double M, const float* x, const float* dy,
                   const float* gamma, const Coefficients& coef, float* dgamma, float* dbeta) {
  const ChannelSplit split = channel_split(N, C, HW);
  DeviceBuffer partial(static_cast<size_t>(2 * split.splits * C) * sizeof(double));  // (2, S, C)
  launch_channel_partial_sums<2>(N, C, HW, split, GradientSums{x, dy, coef.row(0), coef.row(1)},
                                 partial.as<double>());
  BUSI_LAUNCH(finish_backward_kernel, grid_for(C), kThreads, 0, partial.as<double>(), split.splits,
              C, M, gamma, coef.row(1), dgamma, dbeta, coef.row(2), coef.row(3), coef.row(4));
}

}  // namespace

void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                              const float* beta, float eps, float momentum, float* y,
                              float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var) {
  if (C <= 0 || N * HW <= 0) return;
  const double M = static_cast<double>(N * HW);  // values per channel; the op ensures M >= 2
  const ChannelSplit split = channel_split(N, C, HW);
  DeviceBuffer partial(static_cast<size_t>(split.splits * C) * sizeof(double));  // (S, C)
  Coefficients coef(3, C);  // mean, scale, shift
  // Pass 1: the mean.
  launch_channel_partial_sums<1>(N, C, HW, split, SumX{x}, partial.as<double>());
  BUSI_LAUNCH(mean_kernel, grid_for(C), kThreads, 0, partial.as<double>(), split.splits, C, M,
              coef.row(0));
  // Pass 2: the squared deviations from it (stable where E[x^2] - E[x]^2 is not).
  launch_channel_partial_sums<1>(N, C, HW, split, SumSquaredDeviation{x, coef.row(0)},
                                 partial.as<double>());
  BUSI_LAUNCH(finish_train_forward_kernel, grid_for(C), kThreads, 0, partial.as<double>(),
              split.splits, C, M, coef.row(0), gamma, beta, eps, momentum, coef.row(1), coef.row(2),
              save_mean, save_invstd, running_mean, running_var);
  apply_affine(N, C, HW, x, coef.row(1), coef.row(2), y);
}

void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             float eps, float* y) {
  if (C <= 0 || N * HW <= 0) return;
  Coefficients coef(2, C);  // scale, shift
  BUSI_LAUNCH(eval_coefficients_kernel, grid_for(C), kThreads, 0, C, gamma, beta, running_mean,
              running_var, eps, coef.row(0), coef.row(1));
  apply_affine(N, C, HW, x, coef.row(0), coef.row(1), y);
}

// dbeta = sum dy; dgamma = sum dy xhat; dx = gamma invstd / M (M dy - dbeta - xhat dgamma).
void batch_norm_backward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                               const float* save_mean, const float* save_invstd, const float* dy,
                               float* dx, float* dgamma, float* dbeta) {
  if (C <= 0 || N * HW <= 0 || (!dx && !dgamma && !dbeta)) return;
  const double M = static_cast<double>(N * HW);
  Coefficients coef(5, C);  // mean, invstd, sum_dy, sum_dy_xhat, factor
  BUSI_LAUNCH(widen_kernel, grid_for(C), kThreads, 0, C, save_mean, save_invstd, coef.row(0),
              coef.row(1));
  gradient_sums(N, C, HW, M, x, dy, gamma, coef, dgamma, dbeta);
  if (!dx) return;
  const int64_t total = N * C * HW;
  if (HW % 4 == 0 && aligned16(x) && aligned16(dy) && aligned16(dx)) {
    const int64_t total4 = total / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* dy4 = reinterpret_cast<const float4*>(dy);
    float4* dx4 = reinterpret_cast<float4*>(dx);
    if (small_index(total4))
      BUSI_LAUNCH(train_dx_vec4_kernel<uint32_t>, grid_for(total4), kThreads, 0,
                  static_cast<uint32_t>(total4), static_cast<uint32_t>(C),
                  static_cast<uint32_t>(HW / 4), M, x4, dy4, coef.row(0), coef.row(1), coef.row(2),
                  coef.row(3), coef.row(4), dx4);
    else
      BUSI_LAUNCH(train_dx_vec4_kernel<int64_t>, grid_for(total4), kThreads, 0, total4, C, HW / 4,
                  M, x4, dy4, coef.row(0), coef.row(1), coef.row(2), coef.row(3), coef.row(4), dx4);
    return;
  }
  if (small_index(total))
    BUSI_LAUNCH(train_dx_kernel<uint32_t>, grid_for(total), kThreads, 0,
                static_cast<uint32_t>(total), static_cast<uint32_t>(C), static_cast<uint32_t>(HW),
                M, x, dy, coef.row(0), coef.row(1), coef.row(2), coef.row(3), coef.row(4), dx);
  else
    BUSI_LAUNCH(train_dx_kernel<int64_t>, grid_for(total), kThreads, 0, total, C, HW, M, x, dy,
                coef.row(0), coef.row(1), coef.row(2), coef.row(3), coef.row(4), dx);
}

// Statistics are constants: dx = dy gamma / sqrt(r_var + eps); dgamma, dbeta as in training with
// xhat from the running statistics.
void batch_norm_backward_eval(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                              const float* running_mean, const float* running_var, float eps,
                              const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (C <= 0 || N * HW <= 0 || (!dx && !dgamma && !dbeta)) return;
  Coefficients coef(5, C);  // mean, invstd, sum_dy, sum_dy_xhat, factor
  BUSI_LAUNCH(eval_statistics_kernel, grid_for(C), kThreads, 0, C, running_mean, running_var, eps,
              coef.row(0), coef.row(1));
  // M = 1 makes the finishing kernel's factor gamma invstd (no batch statistics to divide by).
  gradient_sums(N, C, HW, 1.0, x, dy, gamma, coef, dgamma, dbeta);
  if (!dx) return;
  const int64_t total = N * C * HW;
  if (small_index(total))
    BUSI_LAUNCH(eval_dx_kernel<uint32_t>, grid_for(total), kThreads, 0,
                static_cast<uint32_t>(total), static_cast<uint32_t>(C), static_cast<uint32_t>(HW),
                dy, coef.row(4), dx);
  else
    BUSI_LAUNCH(eval_dx_kernel<int64_t>, grid_for(total), kThreads, 0, total, C, HW, dy,
                coef.row(4), dx);
}

}  // namespace busi::cuda
