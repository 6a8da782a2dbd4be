// Optimiser bookkeeping (groups, state, schedules) and the update loops: per tensor on the CPU,
// one fused launch over all tensors on CUDA.
#include "engine/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "engine/dispatch.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"

namespace busi::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  BUSI_CHECK(!groups_.empty(), "optimiser: no parameter groups");
  // State is keyed by parameter name, so two parameters with one name would share momentum, and
  // one tensor listed twice would be updated twice per step: both are refused.
  std::set<std::string> names;
  std::set<const TensorImpl*> tensors;
  for (const ParamGroup& g : groups_) {
    BUSI_CHECK(g.lr >= 0.0f && g.weight_decay >= 0.0f, "optimiser: group '", g.name,
               "' has a negative learning rate or weight decay");
    for (const NamedTensor& p : g.params) {
      BUSI_CHECK(p.tensor.defined(), "optimiser: parameter '", p.name, "' in group '", g.name,
                 "' is an undefined tensor");
      BUSI_CHECK(names.insert(p.name).second, "optimiser: parameter name '", p.name,
                 "' appears twice (group '", g.name, "'); names must be unique");
      BUSI_CHECK(tensors.insert(p.tensor.id()).second, "optimiser: parameter '", p.name,
                 "' (group '", g.name, "') is a tensor already listed under another name");
    }
    current_lr_.push_back(g.lr);
  }
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    for (NamedTensor& p : g.params) p.tensor.zero_grad();
}

void Optimizer::set_lr_factor(float factor) {
  for (size_t i = 0; i < groups_.size(); ++i) current_lr_[i] = groups_[i].lr * factor;
}

Tensor& Optimizer::state(const std::string& name, const std::string& buffer, const Tensor& like) {
  const std::string key = name + "." + buffer;
  auto it = state_.find(key);
  if (it == state_.end()) {
    it = state_.emplace(key, Tensor::zeros(like.shape(), like.device())).first;
  } else {
    BUSI_CHECK(it->second.shape() == like.shape(), "optimiser state '", key, "' has shape ",
               shape_str(it->second.shape()), " but the parameter has ", shape_str(like.shape()));
    // State loaded from a checkpoint lives on the CPU until the first step on the GPU.
    if (it->second.device() != like.device()) it->second = it->second.to(like.device());
  }
  return it->second;
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (const auto& [key, t] : state_) out.push_back({key, t});
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  // Copies, so that the source (another optimiser, or a file's buffers) is never shared.
  state_.clear();
  for (const NamedTensor& s : state) state_[s.name] = s.tensor.clone();
}

// ---- SGD ----------------------------------------------------------------------------------------

SGD::SGD(std::vector<ParamGroup> groups, float momentum, bool nesterov)
    : Optimizer(std::move(groups)), momentum_(momentum), nesterov_(nesterov) {
  BUSI_CHECK(momentum >= 0.0f && momentum < 1.0f, "SGD: momentum ", momentum, " out of [0, 1)");
  BUSI_CHECK(!nesterov || momentum > 0.0f, "SGD: Nesterov needs a positive momentum");
}

void SGD::step() {
  ++steps_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    SgdHyper h;
    h.lr = current_lr_[gi];
    h.momentum = momentum_;
    h.weight_decay = groups_[gi].weight_decay;
    h.nesterov = nesterov_;
    std::vector<ParamSlot> cuda_slots;
    // A momentum buffer is "first step" when it was just created for this parameter (which also
    // covers layers unfrozen part-way through training).
    std::vector<ParamSlot> first_slots;
    for (NamedTensor& p : groups_[gi].params) {
      const Tensor grad = p.tensor.grad();
      if (!p.tensor.requires_grad() || !grad.defined()) continue;
      const bool first = momentum_ > 0.0f && !state_.count(p.name + ".momentum_buffer");
      float* buf = momentum_ > 0.0f ? state(p.name, "momentum_buffer", p.tensor).data() : nullptr;
      ParamSlot slot{p.tensor.data(), grad.data(), buf, nullptr, p.tensor.numel()};
      if (p.tensor.is_cuda()) {
        (first ? first_slots : cuda_slots).push_back(slot);
      } else {
        cpu::sgd_update<float>(slot.n, slot.param, slot.grad, slot.state1, h, first);
      }
    }
    if (!cuda_slots.empty()) BUSI_CUDA_CALL(cuda::sgd_update_multi(cuda_slots, h, false));
    if (!first_slots.empty()) BUSI_CUDA_CALL(cuda::sgd_update_multi(first_slots, h, true));
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------

Adam::Adam(std::vector<ParamGroup> groups, bool decoupled, float beta1, float beta2, float eps)
    : Optimizer(std::move(groups)), decoupled_(decoupled), beta1_(beta1), beta2_(beta2), eps_(eps) {
  BUSI_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f && eps > 0.0f,
             "Adam: invalid betas (", beta1, ", ", beta2, ") or eps ", eps);
}

void Adam::step() {
  ++steps_;
  // Each parameter's update count lives in a one-element CPU tensor (saved in checkpoints).
  static const Tensor step_counter_like = Tensor::zeros({1});
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    // Bias correction uses each parameter's own update count, so layers unfrozen later start
    // with a correctly corrected first step.
    std::map<int64_t, std::vector<ParamSlot>> cuda_slots_by_step;
    for (NamedTensor& p : groups_[gi].params) {
      const Tensor grad = p.tensor.grad();
      if (!p.tensor.requires_grad() || !grad.defined()) continue;
      Tensor& count = state(p.name, "step", step_counter_like);
      const int64_t t = static_cast<int64_t>(count.item()) + 1;
      count.fill_(static_cast<float>(t));
      ParamSlot slot{p.tensor.data(), grad.data(), state(p.name, "exp_avg", p.tensor).data(),
                     state(p.name, "exp_avg_sq", p.tensor).data(), p.tensor.numel()};
      if (p.tensor.is_cuda()) {
        cuda_slots_by_step[t].push_back(slot);
      } else {
        cpu::adam_update<float>(slot.n, slot.param, slot.grad, slot.state1, slot.state2,
                                AdamHyper{current_lr_[gi], beta1_, beta2_, eps_,
                                          groups_[gi].weight_decay, decoupled_, t});
      }
    }
    for (const auto& [t, slots] : cuda_slots_by_step) {
      [[maybe_unused]] const AdamHyper h{current_lr_[gi],          beta1_,     beta2_, eps_,
                                         groups_[gi].weight_decay, decoupled_, t};
      BUSI_CUDA_CALL(cuda::adam_update_multi(slots, h));
    }
  }
}

// ---- Schedules ----------------------------------------------------------------------------------

StepSchedule::StepSchedule(int64_t step_size, float gamma) : step_size_(step_size), gamma_(gamma) {
  BUSI_CHECK(step_size > 0, "StepSchedule: step_size must be positive, got ", step_size);
  BUSI_CHECK(gamma > 0.0f, "StepSchedule: gamma must be positive, got ", gamma);
}

float StepSchedule::factor(int64_t step) const {
  return std::pow(gamma_, static_cast<float>(step / step_size_));
}

CosineWarmupSchedule::CosineWarmupSchedule(int64_t warmup, int64_t total, float min_factor)
    : warmup_(warmup), total_(total), min_factor_(min_factor) {
  BUSI_CHECK(total > 0, "CosineWarmupSchedule: total steps must be positive, got ", total);
  BUSI_CHECK(warmup >= 0 && warmup <= total, "CosineWarmupSchedule: warm-up ", warmup,
             " steps must lie in [0, total = ", total, "]");
  BUSI_CHECK(min_factor >= 0.0f && min_factor <= 1.0f, "CosineWarmupSchedule: min_factor ",
             min_factor, " out of [0, 1]");
}

// Warm-up: factor (step + 1) / warmup, reaching 1 at the last warm-up step. Then
// factor = min + (1 - min) (1 + cos(pi p)) / 2 with p = (step - warmup) / (total - warmup).
float CosineWarmupSchedule::factor(int64_t step) const {
  if (step < warmup_) return static_cast<float>(step + 1) / static_cast<float>(warmup_);
  if (step >= total_) return min_factor_;
  const double progress = static_cast<double>(step - warmup_) /
                          static_cast<double>(std::max<int64_t>(total_ - warmup_, 1));
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return min_factor_ + (1.0f - min_factor_) * static_cast<float>(cosine);
}

}  // namespace busi::optim
