// The two batch sources (see batch_source.h): the image loader's batches, and rows held in memory
// reordered every epoch from (seed, epoch).
#include "tools/train/batch_source.h"

#include <algorithm>

#include "data/seeds.h"
#include "engine/random.h"
#include "kernels/common/error.h"

namespace busi::tools {

LoaderSource::LoaderSource(const data::ImageCache& cache, std::vector<int64_t> sample_ids,
                           data::LoaderOptions options)
    : loader_(cache, std::move(sample_ids), std::move(options)) {}

std::optional<data::Batch> LoaderSource::next() { return loader_.next(); }

TensorSource::TensorSource(Tensor rows, std::vector<int64_t> labels,
                           std::vector<int64_t> sample_ids, int64_t batch_size, bool shuffle,
                           uint64_t seed, int64_t views)
    : rows_(std::move(rows)),
      labels_(std::move(labels)),
      sample_ids_(std::move(sample_ids)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      views_(views) {
  BUSI_CHECK(rows_.defined() && views_ >= 1 &&
                 rows_.size(0) == views_ * static_cast<int64_t>(labels_.size()) &&
                 labels_.size() == sample_ids_.size() && batch_size_ > 0,
             "TensorSource: rows, views, labels and sample ids disagree, or batch size <= 0");
}

void TensorSource::start_epoch(int64_t epoch) {
  const int64_t n = samples_per_epoch();
  if (shuffle_) {
    order_ = data::shuffled_order(seed_, epoch, n);  // the image loader's order
  } else {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
  }
  if (views_ > 1) {
    // Sample i's view depends on (seed, epoch, i) alone, not on where the order puts it.
    Generator gen(
        data::derive_seed(seed_, data::SeedStream::Augment, {static_cast<uint64_t>(epoch)}));
    std::vector<int64_t> view(static_cast<size_t>(n));
    for (int64_t& v : view) v = gen.randint(views_);
    for (int64_t& row : order_) row += view[static_cast<size_t>(row)] * n;
  }
  position_ = 0;
}

std::optional<data::Batch> TensorSource::next() {
  const int64_t total = static_cast<int64_t>(order_.size());
  if (position_ >= total) return std::nullopt;
  const int64_t count = std::min(batch_size_, total - position_);
  const int64_t n = samples_per_epoch();
  Shape shape = rows_.shape();
  shape[0] = count;
  data::Batch batch{Tensor::empty(shape, rows_.device()), {}, {}};
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = order_[position_ + i];
    batch.inputs.narrow0(i, 1).copy_(rows_.narrow0(row, 1));
    batch.labels.push_back(labels_[row % n]);
    batch.sample_ids.push_back(sample_ids_[row % n]);
  }
  position_ += count;
  return batch;
}

int64_t TensorSource::batches_per_epoch() const {
  return (samples_per_epoch() + batch_size_ - 1) / batch_size_;
}

}  // namespace busi::tools
