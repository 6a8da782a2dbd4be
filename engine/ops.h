// The differentiable op API: one function per op, the same on CPU and CUDA tensors. Each op
// checks its arguments (errors name the op and the shapes), runs the kernel of the tensor's
// device (kernels/cpu/*.cpp or kernels/cuda/*.cu) and records its backward for autograd.
// Implementations: engine/ops_<family>.cpp, one file per op family, mirroring kernels/.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace busi {

// ---- Element-wise (engine/ops_elementwise.cpp) --------------------------------------------------
// Binary ops broadcast like NumPy: shapes are aligned on the right and a dimension of size 1 (or
// a missing one) is repeated, e.g. (N, C, H, W) + (1, C, 1, 1) adds a per-channel bias.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);       // s * x
Tensor add_scalar(const Tensor& x, float s);  // x + s
Tensor relu(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator*(const Tensor& a, float s) { return scale(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return scale(a, s); }

// ---- Reductions (engine/ops_reduce.cpp) ---------------------------------------------------------
Tensor sum(const Tensor& x);   // all elements -> shape {}
Tensor mean(const Tensor& x);  // all elements -> shape {}

// ---- Shape (engine/ops_shape.cpp); views: no copy -----------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one entry may be -1
Tensor flatten(const Tensor& x);                      // (N, ...) -> (N, prod(...))

// ---- Matrix products (engine/ops_matmul.cpp) ----------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);  // (M, K) x (K, N) -> (M, N)
// y = x W^T + b; x (N, in), weight (out, in), bias (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- Convolution (engine/ops_conv.cpp) ----------------------------------------------------------
// x (N, C, H, W), weight (O, C, kH, kW), bias (O) or undefined -> (N, O, Ho, Wo) with
// Ho = (H + 2 pad - kH) / stride + 1 (likewise Wo). Cross-correlation, as in every framework.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              int64_t stride = 1, int64_t padding = 0);
// relu(conv2d(x, weight, bias)), the same values and gradients, with the ReLU applied in the
// convolution's epilogue (VGG16's conv + ReLU layers).
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                   int64_t stride = 1, int64_t padding = 0);

// ---- Pooling (engine/ops_pool.cpp) --------------------------------------------------------------
// Output size (H + 2 pad - k) / stride + 1 (floor). Padding counts as -infinity for max pooling;
// average pooling divides by the number of real (non-padding) elements in the window.
// stride = 0 means stride = kernel.
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor global_avg_pool2d(const Tensor& x);  // (N, C, H, W) -> (N, C)

// ---- Normalisation (engine/ops_batchnorm.cpp) ---------------------------------------------------
// x (N, C, H, W) or (N, C); gamma, beta (C). Training: normalises with the batch mean and biased
// variance, and updates running_mean/running_var in place (unbiased variance, as PyTorch:
// r = (1 - momentum) r + momentum * batch_stat). Eval: uses the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, float momentum = 0.1f, float eps = 1e-5f);

// ---- Dropout (engine/ops_dropout.cpp) -----------------------------------------------------------
// Training: zeroes each element with probability p and scales survivors by 1/(1-p) (inverted
// dropout); the mask comes from Philox values reserved from `gen`, identical on CPU and CUDA.
// Eval (training = false) or p = 0: returns x unchanged.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen = default_generator());

// ---- Softmax and losses (engine/ops_softmax.cpp) ------------------------------------------------
Tensor softmax(const Tensor& logits);      // (N, K), along dim 1
Tensor log_softmax(const Tensor& logits);  // (N, K), along dim 1
// Mean cross-entropy of logits (N, K) against integer labels in [0, K).
//   class_weights (K): loss_i is multiplied by w[label_i] and the mean divides by sum_i w[label_i]
//   (PyTorch's convention); label_smoothing e: the target is (1 - e) one-hot + e / K uniform.
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                     const std::vector<float>& class_weights = {}, float label_smoothing = 0.0f);

}  // namespace busi
