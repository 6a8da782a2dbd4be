// The trainer runs of a cross-validated comparison (compare's default), one after another: each
// repeat's folds in order, in each fold SimpleCNN first (it makes the fold's split), then the
// VGG16 runs on that split. A run whose folder holds a finished run (metrics.json) is skipped; one
// interrupted after an epoch (last.safetensors, no metrics.json) is resumed from it, so a killed
// comparison started again with the same --out continues at the fold and epoch where it stopped.
// Before each run a line says where the comparison is and about how long is left.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/report/cross_validation.h"

namespace busi::tools {

// The command of one trainer run, without --resume: program path first.
using TrainerCommand =
    std::function<std::vector<std::string>(int64_t repeat, int64_t fold, const std::string& model)>;

// What state a run folder is in.
enum class RunState { Fresh, Interrupted, Finished };
RunState run_state(const std::string& dir);

// The plan's runs in order, started with `command` (plus --resume for an interrupted one).
// Throws busi::Error when a trainer fails, naming it and its exit status.
void run_cross_validation(const CvPlan& plan, const TrainerCommand& command);

// The time left, from the runs timed so far: the mean duration of each model's finished runs
// times its remaining runs (a model not timed yet counts as the mean of those that are). Negative
// when nothing has been timed.
double estimate_seconds_left(const std::vector<std::string>& remaining,
                             const std::vector<std::pair<std::string, double>>& timed);

}  // namespace busi::tools
