// Facts about one run as the report states them, from its config.json, metrics.json and
// history: a setting by one of its names, the initialisation ("ImageNet weights: 5 of 13 conv
// layers"), the epochs run, the best epoch.
#pragma once

#include <initializer_list>
#include <string>

#include "tools/report/run_reader.h"

namespace busi::tools {

// The first of several keys found in config.json, then in metrics.json, as display text.
std::string run_fact(const RunFolder& run, std::initializer_list<const char*> keys);

// A few words for a run's initialisation, to tell apart two runs of one model in the report's
// headings: "random init", "ImageNet 5/13"; "" when config.json does not say.
std::string short_initialisation(const RunFolder& run);

// "ImageNet weights: 5 of 13 conv layers" for a VGG run, "none (trained from scratch)" for a
// SimpleCNN; from config.json.
std::string describe_initialisation(const RunFolder& run);

// A number of metrics.json (NaN when it has none of that name).
double summary_number(const RunFolder& run, const char* key);

// "12 (head 2, finetune 10)" for a run with phases.
std::string describe_epochs(const RunFolder& run);

// "12 (validation macro-F1 0.812)", from metrics.json.
std::string describe_best_epoch(const RunFolder& run);

}  // namespace busi::tools
