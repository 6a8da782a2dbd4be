// Data-dependent initialisation (engine/lsuv.h) of VGG16's conv layers that no weight file
// filled, on a batch of training images: finetune_vgg --lsuv.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "data/image_cache.h"
#include "data/loader.h"
#include "engine/lsuv.h"
#include "models/vgg16.h"
#include "tools/formats/json_value.h"

namespace busi::tools {

// Initialises every conv layer of `model` not in `pretrained`, in forward order, on `images`
// training images spread evenly over `train_ids` (so that every class is there), prepared as
// `eval_options` prepares them (no augmentation), on `device`. The head is left as it is (it
// starts at zero on purpose: every class equally likely). Prints one line per layer.
std::vector<LsuvLayerReport> lsuv_vgg16(models::VGG16& model,
                                        const std::set<std::string>& pretrained,
                                        const data::ImageCache& cache,
                                        const std::vector<int64_t>& train_ids, int64_t images,
                                        data::LoaderOptions eval_options, Device device,
                                        LsuvMode mode);

// [{"layer", "std_before", "std_after", "mean_before", "mean_after", "iterations",
// "dead_channels"}...] for config.json.
Json lsuv_json(const std::vector<LsuvLayerReport>& reports);

}  // namespace busi::tools
