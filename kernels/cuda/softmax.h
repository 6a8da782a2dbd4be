// CUDA softmax, log-softmax and fused softmax + cross-entropy, twins of kernels/cpu/softmax.h.
// `labels` and `class_weights` are device pointers; dloss is read from a device scalar.
#pragma once

#include <cstdint>

namespace busi::cuda {

void softmax_forward(int64_t N, int64_t K, const float* x, float* p);
void softmax_backward(int64_t N, int64_t K, const float* p, const float* dy, float* dx);
void log_softmax_forward(int64_t N, int64_t K, const float* x, float* y);
void log_softmax_backward(int64_t N, int64_t K, const float* y, const float* dy, float* dx);
void cross_entropy_forward(int64_t N, int64_t K, const float* logits, const int64_t* labels,
                           const float* class_weights, float smoothing, float* probs, float* loss);
void cross_entropy_backward(int64_t N, int64_t K, const float* probs, const int64_t* labels,
                            const float* class_weights, float smoothing, const float* dloss,
                            float* dlogits);

}  // namespace busi::cuda
