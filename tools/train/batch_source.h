// Where a subset's batches come from, epoch by epoch: images through the data pipeline's loader
// (LoaderSource), or rows held in memory, such as features a frozen part of the network computed
// once (TensorSource). Both give batches that depend only on (seed, epoch), never on timing.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "data/image_cache.h"
#include "data/loader.h"
#include "engine/tensor.h"

namespace busi::tools {

// Where one subset's batches come from, epoch by epoch. Both kinds below give batches that depend
// only on (seed, epoch), never on timing, so a resumed run sees exactly the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(int64_t epoch) = 0;
  virtual std::optional<data::Batch> next() = 0;  // nullopt when the epoch is over
  virtual int64_t batches_per_epoch() const = 0;
  virtual int64_t samples_per_epoch() const = 0;
};

// Batches of images from the data pipeline's loader (decoded, augmented, normalised).
class LoaderSource : public BatchSource {
 public:
  LoaderSource(const data::ImageCache& cache, std::vector<int64_t> sample_ids,
               data::LoaderOptions options);
  void start_epoch(int64_t epoch) override { loader_.start_epoch(epoch); }
  std::optional<data::Batch> next() override;
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  int64_t samples_per_epoch() const override { return loader_.samples_per_epoch(); }

 private:
  data::BatchLoader loader_;
};

// Batches cut from rows held in memory (frozen features, computed once): the rows are reordered
// every epoch from (seed, epoch) when shuffle is on, like the image loader.
class TensorSource : public BatchSource {
 public:
  // rows: (views * N, ...), view v of sample i at row v * N + i; labels and sample_ids: N. Each
  // epoch takes every sample once, in one of its views drawn at random from (seed, epoch): how
  // augmented versions computed once (VGG16's cached features) still vary from epoch to epoch.
  TensorSource(Tensor rows, std::vector<int64_t> labels, std::vector<int64_t> sample_ids,
               int64_t batch_size, bool shuffle, uint64_t seed, int64_t views = 1);
  void start_epoch(int64_t epoch) override;
  std::optional<data::Batch> next() override;
  int64_t batches_per_epoch() const override;
  int64_t samples_per_epoch() const override { return static_cast<int64_t>(labels_.size()); }

 private:
  Tensor rows_;  // (views * N, ...)
  std::vector<int64_t> labels_, sample_ids_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t views_;
  std::vector<int64_t> order_;  // rows of the current epoch
  int64_t position_ = 0;
};

}  // namespace busi::tools
