// VGG16's cached features: the frozen leading layers run once per image (and per augmented view),
// their outputs held in memory and reused by the next phase when it freezes the same layers; and
// a phase's data, either those features or the images through the whole network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "data/normalize.h"
#include "engine/device.h"
#include "models/vgg16.h"
#include "tools/train/batch_source.h"
#include "tools/train/evaluate.h"
#include "tools/train/prepare_data.h"
#include "tools/train/settings.h"
#include "tools/train/trainer.h"

namespace busi::tools {

// The features of the frozen leading layers, computed once per run (one fold) and reused by the
// next phase when it freezes the same layers.
struct FeatureCache {
  size_t frozen_layers = 0;  // 0: nothing cached
  Rows train, val;           // train.rows holds every view of the training images (views x N)
};

// What a phase trains on: its training and validation batches and the forward pass that takes
// them to logits.
struct PhaseData {
  std::unique_ptr<BatchSource> train, val;
  // The training samples as they are (no augmentation, no shuffling, no random number drawn).
  std::unique_ptr<BatchSource> train_in_order;
  Forward forward;
  size_t cached_layers = 0;  // 0: images (the whole network runs every step)
};

// --cache-features and --feature-views (K versions of each training image, the first as is).
struct FeatureOptions {
  bool cache_features = false;
  int64_t feature_views = 1;
};

// The data of one phase. With the cache off (or no frozen prefix): images through the whole
// network, augmented as the settings say. Otherwise the frozen prefix runs once per validation
// image and per view of each training image (unless `features` already holds that prefix's
// output), the time it took is added to the trainer's, and the phase trains the rest of the
// network on those rows.
PhaseData make_phase_data(FeatureCache& features, models::VGG16& model, const PreparedData& d,
                          const data::Normalization& norm, const TrainingSettings& s,
                          const FeatureOptions& options, Device device, const std::string& phase,
                          Trainer& trainer);

}  // namespace busi::tools
