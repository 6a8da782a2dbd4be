// What predict and serve classify with: one checkpoint, or the fold models of one architecture of
// a cross-validated comparison (compare's folder), loaded once from the path given at start.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "tools/cli/command_line.h"
#include "tools/train/checkpoint_model.h"

namespace busi::tools {

// Either way its probabilities are the mean over its members of each member's softmax(z / T)
// (T = 1 for raw probabilities), with the mirror image averaged in too when asked.
struct Classifier {
  std::vector<LoadedModel> members;
  std::string source;  // the checkpoint, or "the 5 SimpleCNN fold models of runs/compare-X"
  std::optional<double> malignant_threshold;  // the model's, or the mean of the members'
  bool ensemble = false;
  std::string model;  // the architecture ("simple_cnn", "vgg16"): the checkpoint's, or the one
                      // chosen among a compare folder's
  const LoadedModel& first() const { return members.front(); }
};

// `checkpoint`: a checkpoint file, a run folder (its best.safetensors), or a compare folder (the
// fold models of `model_flag`, or of its only model). Throws UsageError for a wrong combination
// of flags, busi::Error naming what is missing.
Classifier load_classifier(const std::string& checkpoint, const std::string& model_flag,
                           Device device);

// The flags that name it, --checkpoint PATH and --model NAME, as predict, serve and export_onnx
// take them.
void add_classifier_flags(CommandLine& cli, std::string* checkpoint, std::string* model_flag);

}  // namespace busi::tools
