// CPU reference kernels for softmax, log-softmax and the fused softmax + cross-entropy loss,
// over rows of (N, K) logits.
#pragma once

#include <cstdint>

namespace busi::cpu {

// p = exp(x - max) / sum exp(x - max)   (subtracting the row max avoids overflow)
template <typename T>
void softmax_forward(int64_t N, int64_t K, const T* x, T* p);
// dx = p * (dy - sum_k dy_k p_k)
template <typename T>
void softmax_backward(int64_t N, int64_t K, const T* p, const T* dy, T* dx);

// y = x - max - log sum exp(x - max)
template <typename T>
void log_softmax_forward(int64_t N, int64_t K, const T* x, T* y);
// dx = dy - exp(y) * sum_k dy_k
template <typename T>
void log_softmax_backward(int64_t N, int64_t K, const T* y, const T* dy, T* dx);

// Mean cross-entropy (PyTorch's convention), with target q_i = (1-e) onehot(label_i) + e/K:
//   loss = sum_i sum_k w_k q_ik (-log p_ik) / sum_i w_{label_i}
// where w = class_weights (null means all ones). Writes loss[0] and the softmax probs (N, K)
// that the backward needs. Labels must be in [0, K) (the op checks before calling).
template <typename T>
void cross_entropy_forward(int64_t N, int64_t K, const T* logits, const int64_t* labels,
                           const T* class_weights, T smoothing, T* probs, T* loss);
// dlogits_ik = dloss * (p_ik sum_j w_j q_ij - w_k q_ik) / sum_i w_{label_i}
// (for unweighted, unsmoothed loss: dloss * (p - onehot) / N).
template <typename T>
void cross_entropy_backward(int64_t N, int64_t K, const T* probs, const int64_t* labels,
                            const T* class_weights, T smoothing, T dloss, T* dlogits);

}  // namespace busi::cpu
