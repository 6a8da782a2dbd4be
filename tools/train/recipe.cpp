// Optimiser, schedule and loader options from the settings (see recipe.h).
#include "tools/train/recipe.h"

#include <algorithm>
#include <cmath>

namespace busi::tools {

std::unique_ptr<optim::Schedule> make_schedule(const TrainingSettings& s, int64_t steps,
                                               int64_t steps_per_epoch) {
  steps = std::max<int64_t>(steps, 1);  // a phase of 0 epochs still gets a valid schedule
  if (s.schedule == "constant") return std::make_unique<optim::ConstantSchedule>();
  if (s.schedule == "step")
    return std::make_unique<optim::StepSchedule>(std::max<int64_t>(steps / 3, 1), 0.1f);
  const int64_t warmup = std::clamp<int64_t>(
      std::llround(s.warmup_epochs * static_cast<float>(steps_per_epoch)), 0, steps);
  // Down to 1 % of the peak rather than 0, so the last epoch still learns a little.
  return std::make_unique<optim::CosineWarmupSchedule>(warmup, steps, 0.01f);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSettings& s,
                                                 std::vector<optim::ParamGroup> groups) {
  if (s.optimizer == "sgd") return std::make_unique<optim::SGD>(std::move(groups), 0.9f, true);
  return optim::make_adamw(std::move(groups));
}

data::LoaderOptions make_loader_options(const TrainingSettings& s,
                                        const data::Normalization& normalization, bool training) {
  data::LoaderOptions o;
  o.batch_size = s.batch;
  o.height = o.width = s.img_size;
  o.shuffle = training;
  o.augment = training && s.augment;
  if (s.augment_policy == "trivial") o.augmentation.policy = data::AugmentOptions::Policy::Trivial;
  o.normalization = normalization;
  o.seed = static_cast<uint64_t>(s.seed);
  o.workers = s.workers;
  return o;
}

}  // namespace busi::tools
