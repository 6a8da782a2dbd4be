// Module bookkeeping (names, state dict, modes, devices, freezing) and the standard layers.
#include "engine/nn.h"

#include "engine/autograd.h"
#include "engine/init.h"

namespace busi::nn {

// ---- Module -------------------------------------------------------------------------------------

void Module::register_parameter(const std::string& name, Tensor* tensor) {
  BUSI_CHECK(tensor && tensor->defined(), "register_parameter: '", name, "' is undefined");
  tensor->set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
}

void Module::register_buffer(const std::string& name, Tensor* tensor) {
  BUSI_CHECK(tensor && tensor->defined(), "register_buffer: '", name, "' is undefined");
  buffers_.emplace_back(name, tensor);
}

void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
  BUSI_CHECK(child != nullptr, "register_module: '", name, "' is null");
  for (const auto& [existing, unused] : children_)
    BUSI_CHECK(existing != name, "register_module: a child named '", name, "' already exists");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const {
  if (params)
    for (const auto& [name, t] : parameters_) out.push_back({prefix + name, *t});
  if (buffers)
    for (const auto& [name, t] : buffers_) out.push_back({prefix + name, *t});
  for (const auto& [name, child] : children_)
    child->collect(prefix + name + ".", params, buffers, out);
}

StateDict Module::named_parameters() const {
  StateDict out;
  collect("", true, false, out);
  return out;
}

StateDict Module::named_buffers() const {
  StateDict out;
  collect("", false, true, out);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const NamedTensor& p : named_parameters()) out.push_back(p.tensor);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const NamedTensor& p : named_parameters())
    if (!trainable_only || p.tensor.requires_grad()) n += p.tensor.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  for (auto& [name, t] : parameters_) {
    // Already there: keep the same tensor, so an optimiser built on it still sees its updates.
    if (t->device() == device) continue;
    const bool trainable = t->requires_grad();
    *t = t->to(device).detach();
    t->set_requires_grad(trainable);
  }
  for (auto& [name, t] : buffers_)
    if (t->device() != device) *t = t->to(device);
  for (auto& [name, child] : children_) child->to(device);
}

void Module::set_requires_grad(bool on) {
  for (auto& [name, t] : parameters_) t->set_requires_grad(on);
  for (auto& [name, child] : children_) child->set_requires_grad(on);
}

// ---- Sequential ---------------------------------------------------------------------------------

Sequential& Sequential::add(std::shared_ptr<Module> child) {
  return add(std::to_string(children().size()), std::move(child));
}

Sequential& Sequential::add(const std::string& name, std::shared_ptr<Module> child) {
  register_module(name, std::move(child));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, child] : children()) h = child->forward(h);
  return h;
}

// ---- Layers -------------------------------------------------------------------------------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride_,
               int64_t padding_, bool with_bias, Generator& gen)
    : stride(stride_), padding(padding_) {
  BUSI_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0,
             "Conv2d: invalid sizes in=", in_channels, " out=", out_channels, " kernel=", kernel);
  weight = Tensor::empty({out_channels, in_channels, kernel, kernel});
  init::kaiming_normal_(weight, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::zeros({out_channels});
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, padding); }
Tensor Conv2d::forward_relu(const Tensor& x) {
  return conv2d_relu(x, weight, bias, stride, padding);
}

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen) {
  BUSI_CHECK(in_features > 0 && out_features > 0, "Linear: invalid sizes in=", in_features,
             " out=", out_features);
  weight = Tensor::empty({out_features, in_features});
  init::xavier_uniform_(weight, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::zeros({out_features});
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm2d::BatchNorm2d(int64_t channels, float momentum_, float eps_)
    : momentum(momentum_), eps(eps_) {
  BUSI_CHECK(channels > 0, "BatchNorm2d: invalid channel count ", channels);
  weight = Tensor::ones({channels});
  bias = Tensor::zeros({channels});
  running_mean = Tensor::zeros({channels});
  running_var = Tensor::ones({channels});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (!estimating_)
    return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  // With momentum 1 the kernel's running buffers become this batch's mean and unbiased variance.
  NoGradGuard no_grad;
  const int64_t c = running_mean.numel();
  Tensor batch_mean = Tensor::zeros({c}, x.device());  // (C)
  Tensor batch_var = Tensor::ones({c}, x.device());    // (C)
  const Tensor y = batch_norm2d(x.detach(), weight.detach(), bias.detach(), batch_mean, batch_var,
                                /*training=*/true, /*momentum=*/1.0f, eps);
  const float n = static_cast<float>(x.size(0));
  sum_mean_ = add(sum_mean_, scale(batch_mean, n));
  sum_square_ = add(sum_square_, scale(add(batch_var, mul(batch_mean, batch_mean)), n));
  estimate_images_ += x.size(0);
  return y;
}

void BatchNorm2d::begin_estimate() {
  estimating_ = true;
  sum_mean_ = Tensor::zeros({running_mean.numel()}, running_mean.device());
  sum_square_ = Tensor::zeros({running_mean.numel()}, running_mean.device());
  estimate_images_ = 0;
}

void BatchNorm2d::end_estimate() {
  BUSI_CHECK(estimating_, "BatchNorm2d::end_estimate without begin_estimate");
  estimating_ = false;
  if (estimate_images_ > 0) {  // nothing seen: the running statistics stay
    NoGradGuard no_grad;
    const float inv = 1.0f / static_cast<float>(estimate_images_);
    const Tensor mean = scale(sum_mean_, inv);
    running_mean.copy_(mean);
    running_var.copy_(sub(scale(sum_square_, inv), mul(mean, mean)));
  }
  sum_mean_ = sum_square_ = Tensor();
}

MeanCenter::MeanCenter(int64_t features, float momentum_) : momentum(momentum_) {
  BUSI_CHECK(features > 0, "MeanCenter: invalid feature count ", features);
  BUSI_CHECK(momentum_ > 0.0f && momentum_ <= 1.0f, "MeanCenter: momentum must be in (0, 1], got ",
             momentum_);
  running_mean = Tensor::zeros({features});
  register_buffer("running_mean", &running_mean);
}

Tensor MeanCenter::forward(const Tensor& x) {
  const int64_t c = running_mean.numel();
  BUSI_CHECK(x.dim() == 2 && x.size(1) == c, "MeanCenter: expected input (N, ", c, "), got ",
             shape_str(x.shape()));
  const int64_t n = x.size(0);
  if (estimating_) {
    NoGradGuard no_grad;
    const Tensor ones = Tensor::ones({1, n}, x.device());          // (1, N)
    estimate_sum_ = add(estimate_sum_, matmul(ones, x.detach()));  // (1, C)
    estimate_rows_ += n;
  }
  // A batch of one image (the last of an epoch can be) is its own mean: centred on itself it
  // would be 0 whatever it shows, so it is centred on the running mean, as at evaluation.
  if (!is_training() || n == 1) return sub(x, running_mean.view({1, c}));
  const Tensor average = Tensor::full({1, n}, 1.0f / static_cast<float>(n), x.device());  // (1, N)
  const Tensor batch_mean = matmul(average, x);                                           // (1, C)
  {
    NoGradGuard no_grad;
    running_mean.copy_(
        add(scale(running_mean, 1.0f - momentum), scale(batch_mean.detach().view({c}), momentum)));
  }
  return sub(x, batch_mean);
}

void MeanCenter::begin_estimate() {
  estimating_ = true;
  estimate_sum_ = Tensor::zeros({1, running_mean.numel()}, running_mean.device());
  estimate_rows_ = 0;
}

void MeanCenter::end_estimate() {
  BUSI_CHECK(estimating_, "MeanCenter::end_estimate without begin_estimate");
  estimating_ = false;
  if (estimate_rows_ == 0) return;  // nothing seen: the running mean stays
  NoGradGuard no_grad;
  running_mean.copy_(
      scale(estimate_sum_, 1.0f / static_cast<float>(estimate_rows_)).view({running_mean.numel()}));
  estimate_sum_ = Tensor();
}

namespace {

// Calls `f` on every module of the subtree, `model` first.
template <typename F>
void for_each_module(Module& model, const F& f) {
  f(model);
  for (const auto& [name, child] : model.children()) for_each_module(*child, f);
}

}  // namespace

int64_t begin_precise_statistics(Module& model) {
  int64_t layers = 0;
  for_each_module(model, [&layers](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
      bn->begin_estimate();
      ++layers;
    }
    if (auto* center = dynamic_cast<MeanCenter*>(&m)) {
      center->begin_estimate();
      ++layers;
    }
  });
  return layers;
}

void end_precise_statistics(Module& model) {
  for_each_module(model, [](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bn->end_estimate();
    if (auto* center = dynamic_cast<MeanCenter*>(&m)) center->end_estimate();
  });
}

}  // namespace busi::nn
