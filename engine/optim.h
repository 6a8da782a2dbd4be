// Optimisers (SGD with momentum / Nesterov / weight decay, Adam, AdamW) over parameter groups,
// each group with its own learning rate and weight decay (fine-tuning gives pretrained layers a
// smaller rate than a new head), and learning-rate schedules (step, cosine with warm-up).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/state_dict.h"
#include "kernels/common/optim_hyper.h"

namespace busi::optim {

struct ParamGroup {
  std::string name;  // "head", "pretrained", ... (shown in logs)
  StateDict params;  // named, so optimiser state can be saved under the parameter's name
  float lr = 0.01f;  // the group's base learning rate (schedules scale it)
  float weight_decay = 0.0f;
};

class Optimizer {
 public:
  // Parameter names must be unique across groups (optimiser state is keyed by name), and no
  // tensor may be listed twice.
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;

  // Applies one update to every parameter that has a gradient (frozen ones are skipped).
  virtual void step() = 0;
  // Drops every parameter's gradient (the next backward writes fresh ones).
  void zero_grad();

  // Sets each group's current rate to base_lr * factor (what a schedule calls every step).
  void set_lr_factor(float factor);
  float lr(size_t group = 0) const { return current_lr_.at(group); }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Optimiser state for checkpoints: buffers named "<param name>.<buffer>" plus the step count.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);
  int64_t step_count() const { return steps_; }
  void set_step_count(int64_t steps) { steps_ = steps; }

 protected:
  // The state buffer `buffer` of parameter `name` (created zero-filled on first use).
  Tensor& state(const std::string& name, const std::string& buffer, const Tensor& like);

  std::vector<ParamGroup> groups_;
  std::vector<float> current_lr_;
  int64_t steps_ = 0;
  std::map<std::string, Tensor> state_;  // "<param>.<buffer>" -> tensor
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, float momentum = 0.9f, bool nesterov = false);
  void step() override;

 private:
  float momentum_;
  bool nesterov_;
};

// Adam (L2 penalty in the gradient) or, with decoupled = true, AdamW (Loshchilov & Hutter:
// weight decay applied to the weights directly, not through the adaptive denominator).
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, bool decoupled = false, float beta1 = 0.9f,
       float beta2 = 0.999f, float eps = 1e-8f);
  void step() override;

 private:
  bool decoupled_;
  float beta1_, beta2_, eps_;
};

inline std::unique_ptr<Optimizer> make_adamw(std::vector<ParamGroup> groups) {
  return std::make_unique<Adam>(std::move(groups), true);
}

// ---- Schedules: the factor multiplying every group's base rate at a given step ------------------

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual float factor(int64_t step) const = 0;
};

class ConstantSchedule : public Schedule {
 public:
  float factor(int64_t) const override { return 1.0f; }
};

// gamma ^ floor(step / step_size)
class StepSchedule : public Schedule {
 public:
  StepSchedule(int64_t step_size, float gamma);  // step_size > 0, gamma > 0
  float factor(int64_t step) const override;

 private:
  int64_t step_size_;
  float gamma_;
};

// Linear warm-up from 1/warmup to 1 over the first `warmup` steps, then half a cosine from 1 down
// to min_factor at `total` steps (and min_factor after).
class CosineWarmupSchedule : public Schedule {
 public:
  // 0 <= warmup <= total, total > 0, min_factor in [0, 1].
  CosineWarmupSchedule(int64_t warmup, int64_t total, float min_factor = 0.0f);
  float factor(int64_t step) const override;

 private:
  int64_t warmup_, total_;
  float min_factor_;
};

}  // namespace busi::optim
