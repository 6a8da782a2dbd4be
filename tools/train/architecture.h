// The "architecture" a run records in config.json and in each checkpoint: the model's
// configuration as JSON, written by train_simple and finetune_vgg and read back by predict and
// --resume. Each field is mapped here once, with the value that older checkpoints, written before
// a field existed, imply.
#pragma once

#include <string>

#include "models/simple_cnn.h"
#include "models/vgg16.h"
#include "tools/formats/json_value.h"
#include "weights/checkpoint.h"

namespace busi::tools {

Json architecture_json(const models::SimpleCNNConfig& config);
Json architecture_json(const models::VGG16Config& config);

// The configuration an architecture describes. Throws busi::Error (naming `where`) when a
// field every checkpoint has is missing or of the wrong type. VGG16's center_head is absent
// from checkpoints written before --center-head: off.
models::SimpleCNNConfig simple_cnn_config(const Json& architecture, const std::string& where);
models::VGG16Config vgg16_config(const Json& architecture, const std::string& where);

// The architecture in a checkpoint's metadata (read_checkpoint_metadata). Throws busi::Error
// naming the file when there is none.
Json checkpoint_architecture(const weights::CheckpointInfo& info, const std::string& path);

}  // namespace busi::tools
