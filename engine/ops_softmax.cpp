// Softmax, log-softmax and the fused softmax + cross-entropy loss over rows of (N, K) logits.
// The math is in kernels/{cpu,cuda}/softmax.
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/softmax.h"

namespace busi {

namespace {

// Checks that `logits` is a non-empty-row (N, K) matrix; `op` names the caller in errors.
void check_logits(const Tensor& logits, const char* op) {
  check_defined(logits, op, "logits");
  BUSI_CHECK(logits.dim() == 2, op, ": logits ", shape_str(logits.shape()), " must be 2-d (N, K)");
  BUSI_CHECK(logits.size(1) >= 1, op, ": logits ", shape_str(logits.shape()),
             " have no classes (K = 0)");
}

// A copy of `bytes` host bytes in memory of `device` (a CUDA GPU), owned by the returned Storage.
// (`host` is unused in a CPU-only build, where BUSI_CUDA_CALL only throws.)
std::shared_ptr<Storage> copy_to_device([[maybe_unused]] const void* host, size_t bytes,
                                        Device device) {
  auto buffer = std::make_shared<Storage>(bytes, device);
  BUSI_CUDA_CALL(cuda::copy_host_to_device(buffer->data(), host, bytes));
  return buffer;
}

// The labels and class weights of one cross_entropy call where its device's kernels read them:
// the host vectors for the CPU, copies in GPU memory for CUDA. Shared by the forward and the
// backward, so the copies are made once.
struct CrossEntropyTargets {
  std::vector<int64_t> labels;              // (N)
  std::vector<float> class_weights;         // (K), or empty for all ones
  std::shared_ptr<Storage> device_labels;   // (N) int64 on the GPU; null on the CPU
  std::shared_ptr<Storage> device_weights;  // (K) float on the GPU; null on the CPU or if empty

  CrossEntropyTargets(std::vector<int64_t> host_labels, std::vector<float> host_weights,
                      Device device)
      : labels(std::move(host_labels)), class_weights(std::move(host_weights)) {
    if (!device.is_cuda()) return;
    device_labels = copy_to_device(labels.data(), labels.size() * sizeof(int64_t), device);
    if (!class_weights.empty())
      device_weights =
          copy_to_device(class_weights.data(), class_weights.size() * sizeof(float), device);
  }
  const int64_t* label_data() const {
    return device_labels ? static_cast<const int64_t*>(device_labels->data()) : labels.data();
  }
  // Null means "every class weighs 1" to the kernels.
  const float* weight_data() const {
    if (class_weights.empty()) return nullptr;
    return device_weights ? static_cast<const float*>(device_weights->data())
                          : class_weights.data();
  }
};

// Checks labels, class weights and smoothing against logits (N, K) as documented in ops.h.
void check_cross_entropy_args(const Tensor& logits, const std::vector<int64_t>& labels,
                              const std::vector<float>& class_weights, float label_smoothing) {
  check_logits(logits, "cross_entropy");
  const int64_t N = logits.size(0), K = logits.size(1);
  BUSI_CHECK(N >= 1, "cross_entropy: empty batch, logits ", shape_str(logits.shape()));
  BUSI_CHECK(static_cast<int64_t>(labels.size()) == N, "cross_entropy: ", labels.size(),
             " labels for logits ", shape_str(logits.shape()), " (need one per row, ", N, ")");
  for (size_t i = 0; i < labels.size(); ++i)
    BUSI_CHECK(labels[i] >= 0 && labels[i] < K, "cross_entropy: label ", labels[i], " at index ", i,
               " is outside [0, ", K, ") for logits ", shape_str(logits.shape()));
  BUSI_CHECK(label_smoothing >= 0.0f && label_smoothing < 1.0f, "cross_entropy: label_smoothing ",
             label_smoothing, " is outside [0, 1)");
  if (class_weights.empty()) return;
  BUSI_CHECK(static_cast<int64_t>(class_weights.size()) == K,
             "cross_entropy: ", class_weights.size(), " class weights for ", K, " classes (logits ",
             shape_str(logits.shape()), ")");
  for (size_t k = 0; k < class_weights.size(); ++k)
    BUSI_CHECK(class_weights[k] >= 0.0f && std::isfinite(class_weights[k]),
               "cross_entropy: class weight ", class_weights[k], " of class ", k,
               " must be finite and non-negative");
  // The mean divides by sum_i w[label_i]: it must not be 0 for this batch.
  double total = 0.0;
  for (int64_t label : labels) total += class_weights[label];
  BUSI_CHECK(total > 0.0, "cross_entropy: the labels of this batch have total class weight ", total,
             " (must be positive to take the weighted mean)");
}

}  // namespace

Tensor softmax(const Tensor& logits) {
  check_logits(logits, "softmax");
  const int64_t N = logits.size(0), K = logits.size(1);
  Tensor p = Tensor::empty({N, K}, logits.device());
  if (logits.is_cuda()) {
    BUSI_CUDA_CALL(cuda::softmax_forward(N, K, logits.data(), p.data()));
  } else {
    cpu::softmax_forward<float>(N, K, logits.data(), p.data());
  }
  // dx = p (dy - sum_k dy_k p_k): the backward needs only the output p.
  const Tensor saved_p = p.detach();
  return record("softmax", p, {logits}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty({N, K}, g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::softmax_backward(N, K, saved_p.data(), g.data(), dx.data()));
    } else {
      cpu::softmax_backward<float>(N, K, saved_p.data(), g.data(), dx.data());
    }
    return {dx};
  });
}

Tensor log_softmax(const Tensor& logits) {
  check_logits(logits, "log_softmax");
  const int64_t N = logits.size(0), K = logits.size(1);
  Tensor y = Tensor::empty({N, K}, logits.device());
  if (logits.is_cuda()) {
    BUSI_CUDA_CALL(cuda::log_softmax_forward(N, K, logits.data(), y.data()));
  } else {
    cpu::log_softmax_forward<float>(N, K, logits.data(), y.data());
  }
  // dx = dy - exp(y) sum_k dy_k: the backward needs only the output y.
  const Tensor saved_y = y.detach();
  return record("log_softmax", y, {logits}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty({N, K}, g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::log_softmax_backward(N, K, saved_y.data(), g.data(), dx.data()));
    } else {
      cpu::log_softmax_backward<float>(N, K, saved_y.data(), g.data(), dx.data());
    }
    return {dx};
  });
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                     const std::vector<float>& class_weights, float label_smoothing) {
  check_cross_entropy_args(logits, labels, class_weights, label_smoothing);
  const int64_t N = logits.size(0), K = logits.size(1);
  const Device dev = logits.device();
  auto targets = std::make_shared<const CrossEntropyTargets>(labels, class_weights, dev);
  Tensor probs = Tensor::empty({N, K}, dev);  // softmax of the logits, kept for the backward
  Tensor loss = Tensor::empty({}, dev);
  if (logits.is_cuda()) {
    BUSI_CUDA_CALL(cuda::cross_entropy_forward(N, K, logits.data(), targets->label_data(),
                                               targets->weight_data(), label_smoothing,
                                               probs.data(), loss.data()));
  } else {
    cpu::cross_entropy_forward<float>(N, K, logits.data(), targets->label_data(),
                                      targets->weight_data(), label_smoothing, probs.data(),
                                      loss.data());
  }
  // dlogits = dloss (p sum_k w_k q_k - w q) / sum_i w[label_i] (see kernels/cpu/softmax.h).
  // The upstream gradient dloss is a scalar: read on the host for the CPU kernel, passed as a
  // device pointer to the CUDA one.
  return record("cross_entropy", loss, {logits}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor dlogits = Tensor::empty({N, K}, g.device());
    if (g.is_cuda()) {
      BUSI_CUDA_CALL(cuda::cross_entropy_backward(N, K, probs.data(), targets->label_data(),
                                                  targets->weight_data(), label_smoothing, g.data(),
                                                  dlogits.data()));
    } else {
      cpu::cross_entropy_backward<float>(N, K, probs.data(), targets->label_data(),
                                         targets->weight_data(), label_smoothing, g.data()[0],
                                         dlogits.data());
    }
    return {dlogits};
  });
}

}  // namespace busi
