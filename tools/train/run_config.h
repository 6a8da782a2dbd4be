// What a run records about itself: config.json (every setting, the model, the machine), the
// settings stored in each checkpoint, and the normalisation as JSON (read back by predict).
#pragma once

#include <map>
#include <string>

#include "data/normalize.h"
#include "engine/device.h"
#include "tools/cli/command_line.h"
#include "tools/formats/json_value.h"
#include "tools/train/prepare_data.h"
#include "tools/train/settings.h"

namespace busi::tools {

// The config.json every run writes: every setting, plus model, seed, device, git commit, preset,
// image size and epochs (and `extra`, the tool's own facts).
Json make_config(const CommandLine& cli, const TrainingSettings& settings,
                 const std::string& model_name, Device device, const std::string& source_dir,
                 const Json& extra);

// The checkpoint metadata both trainers store: settings (as flag text), class names, image size.
std::map<std::string, std::string> base_checkpoint_metadata(const CommandLine& cli,
                                                            const TrainingSettings& settings,
                                                            const PreparedData& data);

// A normalisation as JSON ({"name", "bgr", "scale", "mean", "std"}) for config.json and the
// checkpoints, and back (what predict uses to prepare images exactly as in training).
Json normalization_to_json(const data::Normalization& normalization);
data::Normalization normalization_from_json(const Json& json);

}  // namespace busi::tools
