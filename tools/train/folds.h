// One run, or with --all-folds every fold of a K-fold cross-validation, each in its own folder, and
// the summary of the folds (mean and standard deviation of the main scores).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "tools/cli/command_line.h"
#include "tools/formats/json_value.h"
#include "tools/metrics/classification.h"
#include "tools/train/settings.h"

namespace busi::tools {

// Trains what the flags ask for. One run into settings.out (the --fold of --folds, or the plain
// split); with --all-folds each fold k into out/fold<k>, then the folds' summary (out/config.json
// and out/metrics.json). train_run(run_dir, fold) trains one run (fold 0: no k-fold split) and
// returns its test metrics, or nothing when it stopped on purpose (--stop-after), which ends the
// folds there.
using TrainRun = std::function<std::optional<ClassificationMetrics>(const std::string&, int64_t)>;
void train_runs(const CommandLine& cli, TrainingSettings& settings, const std::string& model_name,
                Device device, const TrainRun& train_run);

// The top-level metrics.json of --all-folds: each fold's test metrics and, for the main scores,
// mean and standard deviation across folds.
void write_fold_summary(const std::string& dir, const std::string& model_name,
                        const std::vector<ClassificationMetrics>& folds, const Json& extra);

}  // namespace busi::tools
