// From the settings to the pieces a run is built of: the optimiser (--optimizer), the
// learning-rate schedule (--schedule, --warmup-epochs) and the loader options (--batch,
// --img-size, --augment, --seed, --workers).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/loader.h"
#include "data/normalize.h"
#include "engine/optim.h"
#include "tools/train/settings.h"

namespace busi::tools {

// Learning-rate schedule for `steps` optimiser steps (--schedule, --warmup-epochs).
std::unique_ptr<optim::Schedule> make_schedule(const TrainingSettings& settings, int64_t steps,
                                               int64_t steps_per_epoch);
// The optimiser of --optimizer over the given parameter groups.
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSettings& settings,
                                                 std::vector<optim::ParamGroup> groups);

// Loader options from the settings: batch, image size, seed, workers; training = shuffled and
// augmented (when --augment is on), otherwise in split order without augmentation.
data::LoaderOptions make_loader_options(const TrainingSettings& settings,
                                        const data::Normalization& normalization, bool training);

}  // namespace busi::tools
