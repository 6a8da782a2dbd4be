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
#include "tools/train/trainer.h"

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

// The trainer's options as both trainers set them: the run folder, model, classes, device,
// patience, --stop-after, the live bar on a terminal, and the checkpoint metadata (the base
// above, the architecture and the normalisation), to which a trainer may add its own.
TrainerOptions make_trainer_options(const CommandLine& cli, const TrainingSettings& settings,
                                    const PreparedData& data, const std::string& run_dir,
                                    const std::string& model_name, Device device,
                                    const Json& architecture,
                                    const data::Normalization& normalization);

// config.json's entries both trainers add to make_config's: the normalisation, the
// architecture, the near-duplicate grouping and, with --folds, the fold.
void add_run_facts(Json& extra, const TrainingSettings& settings, const PreparedData& data,
                   int64_t fold, const Json& architecture,
                   const data::Normalization& normalization);

// A normalisation as JSON ({"name", "bgr", "scale", "mean", "std"}) for config.json and the
// checkpoints, and back (what predict uses to prepare images exactly as in training).
Json normalization_to_json(const data::Normalization& normalization);
data::Normalization normalization_from_json(const Json& json);

}  // namespace busi::tools
