// The settings both trainers share (--data, --epochs, --lr, --seed, ...): the flags that fill them,
// and resolving them after parsing: a resumed checkpoint's settings, the device, the preset,
// the checks of their values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/device.h"
#include "tools/cli/command_line.h"
#include "tools/train/presets.h"

namespace busi::tools {

struct TrainingSettings {
  std::string data;  // the dataset folder (one sub-folder per class)
  std::string out;   // the run folder; default runs/<tool>-<timestamp>
  std::string device = "auto";
  std::string precision = "fp32";  // the flag: fp32 | bf16 | auto (engine/precision.h)
  // Set by resolve_training_settings: the precision used ("fp32" or "bf16") and why.
  std::string precision_used, precision_reason;
  std::string preset = "auto";
  int64_t epochs = 0;  // set by the preset
  int64_t batch = 32;
  int64_t img_size = 0;  // set by the preset
  float lr = 0.0f;       // set by the preset
  float weight_decay = 0.01f;
  std::string optimizer = "adamw";
  std::string schedule = "cosine";
  float warmup_epochs = 1.0f;
  float label_smoothing = 0.0f;
  int64_t seed = 42;
  float val_frac = 0.15f, test_frac = 0.15f;
  int64_t folds = 0;  // 0: a plain train/val/test split
  int64_t fold = 1;   // 1-based, with --folds
  bool all_folds = false;
  bool class_weights = true;
  bool augment = true;
  std::string augment_policy = "fixed";  // fixed | trivial (data/augment.h)
  int64_t patience = 0;
  std::string resume;
  bool deterministic = false;
  int64_t limit_per_class = 0;
  std::string split_csv;
  std::string group_duplicates = "near";    // near: near-duplicates (and byte-identical); exact
  float near_threshold = 0.40f;             // fine similarity at which two images are one scan
  std::string label_conflicts = "exclude";  // exclude: out of training and evaluation; keep
  int64_t stop_after = 0;
  int workers = 2;
  bool skip_bad = false;
  float max_image_megapixels = 64.0f;  // images claiming more pixels are refused (data/image.h)
};

// Registers the flags above on `cli`, with `default_data` as --data's default.
void add_training_flags(CommandLine& cli, TrainingSettings& settings,
                        const std::string& default_data);

// After parsing: restores the settings of the --resume checkpoint (for the flags not given),
// picks the device and the preset (gpu-full on a GPU, cpu-quick otherwise, with one line saying
// which and why), applies the preset, and sets the precision (--precision; one line saying which
// and why). Returns the device.
Device resolve_training_settings(CommandLine& cli, TrainingSettings& settings,
                                 const std::vector<Preset>& presets, const std::string& model_name);

}  // namespace busi::tools
