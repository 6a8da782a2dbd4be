// Computing VGG16's frozen features once and building a phase's data on them (see
// feature_cache.h).
#include "tools/finetune/feature_cache.h"

#include <chrono>
#include <cmath>
#include <iostream>

#include "engine/ops.h"
#include "tools/cli/progress_bar.h"
#include "tools/finetune/trainable_layers.h"
#include "tools/train/recipe.h"

namespace busi::tools {

PhaseData make_phase_data(FeatureCache& features, models::VGG16& model, const PreparedData& d,
                          const data::Normalization& norm, const TrainingSettings& s,
                          const FeatureOptions& options, Device device, const std::string& phase,
                          Trainer& trainer) {
  const data::ImageCache& cache = *d.cache;
  PhaseData out;
  const size_t k = options.cache_features ? frozen_prefix(model) : 0;
  if (k == 0) {
    out.train =
        std::make_unique<LoaderSource>(cache, d.train_ids, make_loader_options(s, norm, true));
    out.val = std::make_unique<LoaderSource>(cache, d.val_ids, make_loader_options(s, norm, false));
    out.train_in_order =
        std::make_unique<LoaderSource>(cache, d.train_ids, make_loader_options(s, norm, false));
    out.forward = [&model](const Tensor& x) { return model.forward(x); };
    std::cout << "phase " << phase << ": images through the whole network"
              << (s.augment ? ", augmented" : "") << "\n";
    return out;
  }
  const auto& names = models::VGG16::conv_layer_names();
  const bool all_frozen = k == names.size();
  // Frozen layers (and, when all 13 are, block5_pool + global average pooling) applied once.
  const Forward frozen = [&model, k, all_frozen](const Tensor& x) {
    const Tensor h = model.forward_layers(x, 0, k);
    return all_frozen ? global_avg_pool2d(max_pool2d(h, 2)) : h;
  };
  // Versions of each training image in the cache (augmented views need augmentation on).
  const int64_t views = s.augment ? options.feature_views : 1;
  if (features.frozen_layers == k) {
    std::cout << "phase " << phase << ": " << names[0] << " ... " << names[k - 1]
              << " are frozen, as in the previous phase: its features are reused\n";
  } else {
    const auto start = std::chrono::steady_clock::now();
    model.eval();
    // View v of the training images: as they are (v = 0) or augmented as in loader epoch v (the
    // loader is not shuffled, so every view lists the samples in the same order).
    auto train_view = [&](int64_t v) {
      data::LoaderOptions o = make_loader_options(s, norm, false);
      o.augment = v > 0;
      LoaderSource train_images(cache, d.train_ids, o);
      return compute_rows(frozen, train_images, device, v);
    };
    features.train = train_view(0);
    const Shape view_shape = features.train.rows.shape();
    if (views > 1) {
      // Every view in one tensor, view v of sample i at row v * N + i (what TensorSource reads);
      // each later view is copied in as soon as it is computed.
      const int64_t n = view_shape[0];
      Shape shape = view_shape;
      shape[0] = n * views;
      const Tensor first = features.train.rows;
      features.train.rows = Tensor::empty(shape, device);
      features.train.rows.narrow0(0, n).copy_(first);
      for (int64_t v = 1; v < views; ++v)
        features.train.rows.narrow0(v * n, n).copy_(train_view(v).rows);
    }
    LoaderSource val_images(cache, d.val_ids, make_loader_options(s, norm, false));
    features.val = compute_rows(frozen, val_images, device);
    features.frozen_layers = k;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    trainer.add_setup_seconds(seconds);
    const double megabytes = static_cast<double>(features.train.rows.numel()) * 4.0 / 1e6;
    std::cout << "phase " << phase << ": " << names[0] << " ... " << names[k - 1]
              << " are frozen: computed once per image (" << views << " x " << shape_str(view_shape)
              << " training features, " << std::lround(megabytes) << " MB, in "
              << format_duration(seconds) << "); "
              << (views > 1
                      ? "each epoch trains on one of the " + std::to_string(views) +
                            " versions of each image (the first as is, the others augmented)\n"
                      : std::string("no augmentation (--feature-views 1)\n"));
  }
  const Rows& train_rows = features.train;
  const Rows& val_rows = features.val;
  const uint64_t seed = static_cast<uint64_t>(s.seed);
  out.train = std::make_unique<TensorSource>(train_rows.rows, train_rows.labels,
                                             train_rows.sample_ids, s.batch, true, seed, views);
  out.val = std::make_unique<TensorSource>(val_rows.rows, val_rows.labels, val_rows.sample_ids,
                                           s.batch, false, seed);
  const int64_t n = static_cast<int64_t>(train_rows.labels.size());  // view 0: the images as is
  out.train_in_order =
      std::make_unique<TensorSource>(train_rows.rows.narrow0(0, n), train_rows.labels,
                                     train_rows.sample_ids, s.batch, false, seed);
  out.cached_layers = k;
  if (all_frozen) {
    out.forward = [&model](const Tensor& pooled) { return model.forward_pooled(pooled); };
  } else {
    out.forward = [&model, k](const Tensor& h) {
      return model.forward_head(
          model.forward_layers(h, k, models::VGG16::conv_layer_names().size()));
    };
  }
  return out;
}

}  // namespace busi::tools
