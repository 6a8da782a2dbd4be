// CUDA softmax, log-softmax and the fused log-softmax + cross-entropy loss over rows of (N, K)
// logits, twins of kernels/cpu/softmax.cpp with the same arithmetic (max in float, exponentials
// and sums in double). One warp per row: lanes stride through the K classes and combine with the
// fixed shuffle tree. The cross-entropy kernels run as one block (a batch of rows: N up to a few
// thousand), so the loss - a sum over rows - is finished in the same launch, in a fixed order.
#include <cuda_runtime.h>

#include <cfloat>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/softmax.h"

namespace busi::cuda {

namespace {

constexpr int kRowsPerBlock = kThreads / 32;  // one warp per row
constexpr int kLossThreads = 1024;            // the single block of the cross-entropy kernels

// Blocks for warp-per-row kernels.
unsigned row_blocks(int64_t N) {
  const int64_t needed = (N + kRowsPerBlock - 1) / kRowsPerBlock;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(needed, 65535LL * 16)));
}

// log sum_k exp(row_k) = max + log sum_k exp(row_k - max), the same in every lane of the warp.
__device__ double warp_log_sum_exp(int64_t K, const float* row, int lane) {
  float max = -FLT_MAX;
  for (int64_t k = lane; k < K; k += 32) max = fmaxf(max, row[k]);
  const double m = warp_max(max);
  double sum = 0.0;
  for (int64_t k = lane; k < K; k += 32) sum += exp(row[k] - m);
  return m + log(warp_sum(sum));
}

// Target of the smoothed cross-entropy: q_k = (1 - e) [k == label] + e / K.
__device__ __forceinline__ double target(int64_t k, int64_t label, int64_t K, float smoothing) {
  const double e = smoothing;
  return (k == label ? 1.0 - e : 0.0) + e / static_cast<double>(K);
}

__device__ __forceinline__ double weight_of(const float* class_weights, int64_t k) {
  return class_weights ? static_cast<double>(class_weights[k]) : 1.0;
}

// sum_i w[label_i] over the whole block (valid in every thread: shared through `scratch`).
__device__ double block_total_label_weight(int64_t N, const int64_t* labels,
                                           const float* class_weights, double* scratch) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) acc += weight_of(class_weights, labels[i]);
  const double total = block_sum(acc, scratch);
  __shared__ double shared_total;
  if (threadIdx.x == 0) shared_total = total;
  __syncthreads();
  return shared_total;
}

// ---- Softmax and log-softmax --------------------------------------------------------------------

template <bool kLog>
__global__ void softmax_forward_kernel(int64_t N, int64_t K, const float* x, float* out) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = global_thread_index() / 32, warps = grid_thread_count() / 32;
  for (int64_t i = warp; i < N; i += warps) {
    const float* row = x + i * K;  // (K)
    const double lse = warp_log_sum_exp(K, row, lane);
    for (int64_t k = lane; k < K; k += 32)
      out[i * K + k] =
          kLog ? static_cast<float>(row[k] - lse) : static_cast<float>(exp(row[k] - lse));
  }
}

// dx_j = p_j (dy_j - sum_k dy_k p_k)
__global__ void softmax_backward_kernel(int64_t N, int64_t K, const float* p, const float* dy,
                                        float* dx) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = global_thread_index() / 32, warps = grid_thread_count() / 32;
  for (int64_t i = warp; i < N; i += warps) {
    const int64_t row = i * K;
    double dot = 0.0;
    for (int64_t k = lane; k < K; k += 32) dot += static_cast<double>(dy[row + k]) * p[row + k];
    dot = warp_sum(dot);
    for (int64_t k = lane; k < K; k += 32)
      dx[row + k] = static_cast<float>(p[row + k] * (dy[row + k] - dot));
  }
}

// dx_j = dy_j - exp(y_j) sum_k dy_k
__global__ void log_softmax_backward_kernel(int64_t N, int64_t K, const float* y, const float* dy,
                                            float* dx) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = global_thread_index() / 32, warps = grid_thread_count() / 32;
  for (int64_t i = warp; i < N; i += warps) {
    const int64_t row = i * K;
    double sum_dy = 0.0;
    for (int64_t k = lane; k < K; k += 32) sum_dy += dy[row + k];
    sum_dy = warp_sum(sum_dy);
    for (int64_t k = lane; k < K; k += 32)
      dx[row + k] = static_cast<float>(dy[row + k] - exp(static_cast<double>(y[row + k])) * sum_dy);
  }
}

// ---- Cross-entropy (one block) ------------------------------------------------------------------

// loss = sum_i sum_k w_k q_ik (lse_i - x_ik) / sum_i w[label_i]; probs = softmax(logits).
// Warp w takes rows w, w + 32, ...; terms with q = 0 are skipped (a -inf logit outside the target
// adds nothing instead of 0 * inf = NaN), as on the CPU.
__global__ void __launch_bounds__(kLossThreads)
    cross_entropy_forward_kernel(int64_t N, int64_t K, const float* logits, const int64_t* labels,
                                 const float* class_weights, float smoothing, float* probs,
                                 float* loss) {
  __shared__ double scratch[32];
  const int lane = threadIdx.x & 31;
  const int64_t warp = threadIdx.x / 32, warps = blockDim.x / 32;
  double warp_loss = 0.0;  // this warp's rows, the same in all its lanes
  for (int64_t i = warp; i < N; i += warps) {
    const float* row = logits + i * K;  // (K)
    const double lse = warp_log_sum_exp(K, row, lane);
    const int64_t label = labels[i];
    double row_loss = 0.0;
    for (int64_t k = lane; k < K; k += 32) {
      const double neg_log_p = lse - row[k];
      probs[i * K + k] = static_cast<float>(exp(-neg_log_p));
      const double q = target(k, label, K, smoothing);
      if (q != 0.0) row_loss += weight_of(class_weights, k) * q * neg_log_p;
    }
    warp_loss += warp_sum(row_loss);
  }
  const double total = block_sum(lane == 0 ? warp_loss : 0.0, scratch);
  const double weight = block_total_label_weight(N, labels, class_weights, scratch);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(total / weight);
}

// dlogits_ik = dloss (p_ik sum_j w_j q_ij - w_k q_ik) / sum_i w[label_i], with dloss read from
// device memory (the upstream gradient of the loss, a scalar on the GPU).
__global__ void __launch_bounds__(kLossThreads)
    cross_entropy_backward_kernel(int64_t N, int64_t K, const float* probs, const int64_t* labels,
                                  const float* class_weights, float smoothing, const float* dloss,
                                  float* dlogits) {
  __shared__ double scratch[32];
  const double weight = block_total_label_weight(N, labels, class_weights, scratch);
  const double factor = static_cast<double>(dloss[0]) / weight;
  const int lane = threadIdx.x & 31;
  const int64_t warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int64_t i = warp; i < N; i += warps) {
    const int64_t label = labels[i];
    double row_target_weight = 0.0;  // sum_k w_k q_ik
    for (int64_t k = lane; k < K; k += 32)
      row_target_weight += weight_of(class_weights, k) * target(k, label, K, smoothing);
    row_target_weight = warp_sum(row_target_weight);
    for (int64_t k = lane; k < K; k += 32) {
      const double wq = weight_of(class_weights, k) * target(k, label, K, smoothing);
      dlogits[i * K + k] = static_cast<float>(factor * (probs[i * K + k] * row_target_weight - wq));
    }
  }
}

}  // namespace

void softmax_forward(int64_t N, int64_t K, const float* x, float* p) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(softmax_forward_kernel<false>, row_blocks(N), kThreads, 0, N, K, x, p);
}

void softmax_backward(int64_t N, int64_t K, const float* p, const float* dy, float* dx) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(softmax_backward_kernel, row_blocks(N), kThreads, 0, N, K, p, dy, dx);
}

void log_softmax_forward(int64_t N, int64_t K, const float* x, float* y) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(softmax_forward_kernel<true>, row_blocks(N), kThreads, 0, N, K, x, y);
}

void log_softmax_backward(int64_t N, int64_t K, const float* y, const float* dy, float* dx) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(log_softmax_backward_kernel, row_blocks(N), kThreads, 0, N, K, y, dy, dx);
}

void cross_entropy_forward(int64_t N, int64_t K, const float* logits, const int64_t* labels,
                           const float* class_weights, float smoothing, float* probs, float* loss) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(cross_entropy_forward_kernel, 1, kLossThreads, 0, N, K, logits, labels, class_weights,
              smoothing, probs, loss);
}

void cross_entropy_backward(int64_t N, int64_t K, const float* probs, const int64_t* labels,
                            const float* class_weights, float smoothing, const float* dloss,
                            float* dlogits) {
  if (N <= 0 || K <= 0) return;
  BUSI_LAUNCH(cross_entropy_backward_kernel, 1, kLossThreads, 0, N, K, probs, labels, class_weights,
              smoothing, dloss, dlogits);
}

}  // namespace busi::cuda
