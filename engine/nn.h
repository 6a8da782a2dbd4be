// Neural-network modules: a Module owns named parameters (trained) and buffers (running
// statistics), and child modules; names are dotted paths ("block1_conv1.weight") as in PyTorch,
// and the state-dict view (name -> tensor) is what weight files and checkpoints read and write.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/random.h"
#include "engine/state_dict.h"

namespace busi::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // modules hold tensors by address: never copied
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Parameters / buffers / both, with full dotted names, in registration order (a module's own
  // tensors first, then each child's, recursively).
  StateDict named_parameters() const;
  StateDict named_buffers() const;
  StateDict state_dict() const;  // parameters and buffers
  std::vector<Tensor> parameters() const;
  // Number of parameter values (all, or only those that currently require a gradient).
  int64_t num_parameters(bool trainable_only = false) const;

  // Train/eval mode (batch norm statistics, dropout), applied to the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer to `device` (do this before creating the optimiser).
  void to(Device device);
  // Freezes (false) or unfreezes (true) every parameter of the subtree.
  void set_requires_grad(bool on);

  // Direct children with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

 protected:
  // Registers a tensor member of the subclass: the module keeps its address, so the member must
  // live as long as the module (a plain field). Parameters get requires_grad = true.
  void register_parameter(const std::string& name, Tensor* tensor);
  void register_buffer(const std::string& name, Tensor* tensor);
  void register_module(const std::string& name, std::shared_ptr<Module> child);
  // Called by train(); layers with mode-dependent behaviour read is_training().
  bool training_ = true;

 private:
  void collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const;
  std::vector<std::pair<std::string, Tensor*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Applies its children in order. Children get the names given to add() ("block1_conv1"), or
// their index ("0", "1", ...) when added without a name.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> child);
  Sequential& add(const std::string& name, std::shared_ptr<Module> child);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

// 2-d convolution, square kernel. weight (out, in, k, k) He-normal initialised (the layers are
// followed by ReLU), bias zero.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
         int64_t padding = 0, bool bias = true, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)), the ReLU fused into the convolution (conv2d_relu).
  Tensor forward_relu(const Tensor& x);
  Tensor weight, bias;
  int64_t stride, padding;
};

// y = x W^T + b; weight (out, in) Glorot-uniform initialised, bias zero.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

// Batch normalisation of (N, C, H, W) per channel (engine/ops.h batch_norm2d): weight (gamma)
// ones, bias (beta) zeros; buffers running_mean zeros and running_var ones (PyTorch's names and
// defaults). The running
// statistics that evaluation uses lag weights that change fast, and on a small data set the
// validation score then jumps from epoch to epoch with the lag, not with the weights. Precise
// statistics (Wu & Johnson 2021) remove the lag: between begin_estimate() and end_estimate() each
// forward normalises with its batch's statistics, as training does, and adds them to an exact
// pooled estimate over every batch seen, which end_estimate() makes the running statistics:
//   mean = sum_b n_b m_b / N,   var = sum_b n_b (v_b + m_b^2) / N - mean^2
// (the law of total variance over batches b of n_b images with mean m_b and variance v_b; v_b is
// the kernel's unbiased variance, which differs from the biased one by a factor 1 + 1/(n_b H W - 1),
// under 0.1 % for a batch of 32 at 6 x 6). Layers downstream see batch-normalised inputs, as in
// training, so each layer's estimate is for the activations training produced.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  void begin_estimate();
  void end_estimate();  // running statistics = the pooled statistics since begin_estimate()
  Tensor weight, bias, running_mean, running_var;  // (C) each
  float momentum, eps;

 private:
  bool estimating_ = false;
  Tensor sum_mean_, sum_square_;  // (C): sum_b n_b m_b and sum_b n_b (v_b + m_b^2)
  int64_t estimate_images_ = 0;
};

// Mean-only batch normalisation (Salimans & Kingma 2016, "Weight normalization"): y = x - the
// mean over the batch, per feature, with no division by the spread and nothing learned (the next
// layer's bias does the shifting). x is (N, C). Training subtracts the batch mean and updates
// the buffer running_mean (r = (1 - momentum) r + momentum * batch mean, as BatchNorm2d); eval
// subtracts running_mean (so does a training batch of one image, which centred on itself would
// be 0). Backward: dL/dx = g - mean over the batch of g, so the layers below receive no push
// shared by every image of the batch. Built from matmul and sub (no kernel of its own): the batch
// mean is the product (1/N) 1^T x.
//
// The running mean lags features that change fast (early training), and the lag shifts every
// image's logits alike. Precise statistics (Wu & Johnson 2021, "Rethinking 'batch' in
// BatchNorm") remove it: between begin_estimate() and end_estimate() each forward, in either
// mode, also adds its rows to an exact average, which end_estimate() makes the running mean.
class MeanCenter : public Module {
 public:
  explicit MeanCenter(int64_t features, float momentum = 0.1f);
  Tensor forward(const Tensor& x) override;
  void begin_estimate();
  void end_estimate();  // running_mean = the average of the rows seen since begin_estimate()
  Tensor running_mean;  // (C)
  float momentum;

 private:
  bool estimating_ = false;
  Tensor estimate_sum_;  // (1, C), on running_mean's device
  int64_t estimate_rows_ = 0;
};

// Precise statistics for every BatchNorm2d and MeanCenter of a subtree: begin, run forward passes
// over the training images (the model in eval mode, so that dropout is off), end. Returns the
// number of layers estimated.
int64_t begin_precise_statistics(Module& model);
void end_precise_statistics(Module& model);

// Inverted dropout with its own seeded generator, so a run's masks depend only on its seed.
class Dropout : public Module {
 public:
  explicit Dropout(float probability, uint64_t seed = 0) : p(probability), gen(seed) {}
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training(), gen); }
  float p;
  Generator gen;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride_ = 0, int64_t padding_ = 0)
      : kernel(kernel_size), stride(stride_), padding(padding_) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, padding); }
  int64_t kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, int64_t stride_ = 0, int64_t padding_ = 0)
      : kernel(kernel_size), stride(stride_), padding(padding_) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, kernel, stride, padding); }
  int64_t kernel, stride, padding;
};

class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override { return global_avg_pool2d(x); }
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x); }
};

}  // namespace busi::nn
