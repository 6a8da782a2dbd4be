// CPU reference kernels for softmax, log-softmax and the fused softmax + cross-entropy loss
// (see softmax.h). Rows are independent; exponentials and sums are taken in double.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

namespace busi::cpu {

namespace {

// Rows are worth spreading over threads once the matrix is large enough to pay for it.
inline bool worth_parallel(int64_t N, int64_t K) { return N * K > 32768; }

// log sum_k exp(row_k) = max + log sum_k exp(row_k - max): after subtracting the max every
// exponent is <= 0, so nothing overflows and the largest term is exactly 1.
template <typename T>
double log_sum_exp(int64_t K, const T* row) {
  const double max = *std::max_element(row, row + K);
  double sum = 0.0;
  for (int64_t k = 0; k < K; ++k) sum += std::exp(row[k] - max);
  return max + std::log(sum);
}

// Target distribution of the cross-entropy for one row: q_k = (1 - e) [k == label] + e / K.
template <typename T>
double target(int64_t k, int64_t label, int64_t K, T smoothing) {
  const double e = smoothing;
  return (k == label ? 1.0 - e : 0.0) + e / static_cast<double>(K);
}

// Weight of class k; a null class_weights means every class weighs 1.
template <typename T>
double weight_of(const T* class_weights, int64_t k) {
  return class_weights ? static_cast<double>(class_weights[k]) : 1.0;
}

// sum_i w_{label_i}: the denominator of the weighted mean (N when unweighted).
template <typename T>
double total_label_weight(int64_t N, const int64_t* labels, const T* class_weights) {
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) total += weight_of(class_weights, labels[i]);
  return total;
}

}  // namespace

template <typename T>
void softmax_forward(int64_t N, int64_t K, const T* x, T* p) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, K))
  for (int64_t i = 0; i < N; ++i) {
    const T* row = x + i * K;  // (K)
    const double lse = log_sum_exp(K, row);
    for (int64_t k = 0; k < K; ++k) p[i * K + k] = static_cast<T>(std::exp(row[k] - lse));
  }
}

// With p = softmax(x), dp_k/dx_j = p_k ([k == j] - p_j), hence
//   dx_j = sum_k dy_k p_k ([k == j] - p_j) = p_j (dy_j - sum_k dy_k p_k).
template <typename T>
void softmax_backward(int64_t N, int64_t K, const T* p, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, K))
  for (int64_t i = 0; i < N; ++i) {
    const int64_t row = i * K;
    double dot = 0.0;  // sum_k dy_k p_k
    for (int64_t k = 0; k < K; ++k) dot += static_cast<double>(dy[row + k]) * p[row + k];
    for (int64_t k = 0; k < K; ++k) dx[row + k] = static_cast<T>(p[row + k] * (dy[row + k] - dot));
  }
}

template <typename T>
void log_softmax_forward(int64_t N, int64_t K, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, K))
  for (int64_t i = 0; i < N; ++i) {
    const T* row = x + i * K;  // (K)
    const double lse = log_sum_exp(K, row);
    for (int64_t k = 0; k < K; ++k) y[i * K + k] = static_cast<T>(row[k] - lse);
  }
}

// With y_k = x_k - log sum_j exp(x_j), dy_k/dx_j = [k == j] - p_j where p_j = exp(y_j), hence
//   dx_j = dy_j - exp(y_j) sum_k dy_k.
template <typename T>
void log_softmax_backward(int64_t N, int64_t K, const T* y, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (worth_parallel(N, K))
  for (int64_t i = 0; i < N; ++i) {
    const int64_t row = i * K;
    double sum_dy = 0.0;
    for (int64_t k = 0; k < K; ++k) sum_dy += dy[row + k];
    for (int64_t k = 0; k < K; ++k)
      dx[row + k] =
          static_cast<T>(dy[row + k] - std::exp(static_cast<double>(y[row + k])) * sum_dy);
  }
}

// loss = sum_i sum_k w_k q_ik (-log p_ik) / sum_i w_{label_i}, with -log p_ik = lse_i - x_ik.
// Serial over rows: N is a batch (tens of rows), and one fixed summation order keeps the loss
// bit-identical whatever the thread count.
template <typename T>
void cross_entropy_forward(int64_t N, int64_t K, const T* logits, const int64_t* labels,
                           const T* class_weights, T smoothing, T* probs, T* loss) {
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const T* row = logits + i * K;  // (K)
    const double lse = log_sum_exp(K, row);
    for (int64_t k = 0; k < K; ++k) {
      const double neg_log_p = lse - row[k];
      probs[i * K + k] = static_cast<T>(std::exp(-neg_log_p));
      const double q = target(k, labels[i], K, smoothing);
      // Terms with a zero target are skipped, so a -inf logit (p = 0) outside the target
      // adds nothing instead of 0 * inf = NaN.
      if (q != 0.0) total += weight_of(class_weights, k) * q * neg_log_p;
    }
  }
  loss[0] = static_cast<T>(total / total_label_weight(N, labels, class_weights));
}

// Row i contributes L_i = -sum_k w_k q_ik (x_ik - lse_i), so with p = softmax(x)
//   dL_i/dx_ij = p_ij sum_k w_k q_ik - w_j q_ij
// and dlogits = dloss * that / sum_i w_{label_i}; unweighted and unsmoothed this is
// dloss (p - onehot) / N.
template <typename T>
void cross_entropy_backward(int64_t N, int64_t K, const T* probs, const int64_t* labels,
                            const T* class_weights, T smoothing, T dloss, T* dlogits) {
  const double factor = dloss / total_label_weight(N, labels, class_weights);
#pragma omp parallel for schedule(static) if (worth_parallel(N, K))
  for (int64_t i = 0; i < N; ++i) {
    double row_target_weight = 0.0;  // sum_k w_k q_ik
    for (int64_t k = 0; k < K; ++k)
      row_target_weight += weight_of(class_weights, k) * target(k, labels[i], K, smoothing);
    for (int64_t k = 0; k < K; ++k) {
      const double wq = weight_of(class_weights, k) * target(k, labels[i], K, smoothing);
      dlogits[i * K + k] = static_cast<T>(factor * (probs[i * K + k] * row_target_weight - wq));
    }
  }
}

#define BUSI_INSTANTIATE(T)                                                                        \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);                                \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                     \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);                            \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                 \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*, const T*, T,  \
                                         T*, T*);                                                  \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, const T*, T, \
                                          T, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
