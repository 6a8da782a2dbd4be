// BatchLoader: turns cached images of one subset into batches (N, C, H, W) float32 + labels,
// shuffled per epoch, optionally augmented and class-balanced, prepared by background threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/image_cache.h"
#include "data/normalize.h"
#include "engine/tensor.h"

namespace busi::data {

// One batch, the only batch type of the project: the loader's images, or (tools/train's
// TensorSource) rows a frozen part of the network computed once, on the CPU or the device.
struct Batch {
  Tensor inputs;                    // (N, C, H, W) float32 images, normalised; or (N, ...) rows
  std::vector<int64_t> labels;      // (N,) class indices
  std::vector<int64_t> sample_ids;  // (N,) ids into the DatasetIndex (and the ImageCache)
};

struct LoaderOptions {
  int64_t batch_size = 32;
  int64_t height = 224, width = 224;  // output size of every image
  bool shuffle = true;                // a new order every epoch (from seed and epoch)
  bool drop_last = false;             // drop the last batch when it is smaller than batch_size
  // Instead of each image once per epoch: as many draws, with replacement, each of a class
  // chosen uniformly then an image of that class chosen uniformly (every class equally often).
  bool class_balanced = false;
  // Training: augment each image (AugmentOptions); otherwise (validation, test): the centre
  // eval_crop_fraction of the cached image, resized to the output size.
  bool augment = false;
  AugmentOptions augmentation;
  double eval_crop_fraction = 1.0;
  Normalization normalization = Normalization::imagenet_torch();
  // Applied to each image after the built-in transforms, on a worker thread (must be
  // thread-safe); an exception it throws is re-raised by next() when it reaches that batch.
  std::function<void(Image& image, int64_t sample_id)> custom_transform;
  uint64_t seed = 0;
  int workers = 2;               // background threads building batches
  int64_t prefetch_batches = 4;  // the bounded queue: batches built ahead of the consumer
};

// The shuffled order of epoch `epoch` over n items: a permutation of 0..n-1 drawn from
// derive_seed(seed, Order, {epoch}). The loader's order, and that of every other batch source
// that must shuffle as it does (tools/train's TensorSource).
std::vector<int64_t> shuffled_order(uint64_t seed, int64_t epoch, int64_t n);

// Usage, each epoch:  loader.start_epoch(e); while (auto batch = loader.next()) { ... }
//
// Batches come out in order and their contents depend only on (seed, epoch, sample ids): the
// order of epoch e is drawn from derive_seed(seed, Order, {e}), and the augmentation of the
// image at position p of the epoch from derive_seed(seed, Augment, {e, p}), so the number of
// workers and their timing change nothing. Failures too: a batch that cannot be built is raised
// by next() only when its turn comes, after every batch before it, so the batch that fails is
// the same on every run. The cache must outlive the loader.
class BatchLoader {
 public:
  // Throws busi::Error for bad options (including drop_last with fewer samples than a batch,
  // which would leave no batch at all) and when a worker thread cannot be started (the threads
  // already started are stopped and joined first).
  BatchLoader(const ImageCache& cache, std::vector<int64_t> sample_ids, LoaderOptions options);
  ~BatchLoader();  // stops the workers (abandoning any batches not taken) and joins them
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts an epoch: draws its order and lets the workers build its batches. Abandons what is
  // left of the previous epoch.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch (blocks until it is ready), or nullopt when the epoch is
  // over. Re-raises, on the caller's thread, an exception thrown while building this batch;
  // the epoch then stays failed (every later call raises it again) until start_epoch.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t samples_per_epoch() const { return static_cast<int64_t>(sample_ids_.size()); }
  const LoaderOptions& options() const { return options_; }

 private:
  // One epoch's work: its sample order, cut into batches of consecutive positions.
  struct EpochPlan {
    int64_t epoch = 0;
    std::vector<int64_t> order;  // sample ids, position by position
  };

  std::vector<int64_t> draw_order(int64_t epoch) const;
  Batch build_batch(const EpochPlan& plan, int64_t batch_index) const;
  void worker_loop();
  void stop_workers();  // tells the workers to return and joins them

  const ImageCache& cache_;
  const std::vector<int64_t> sample_ids_;
  const LoaderOptions options_;

  // Shared with the workers, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;        // any of the fields below changed
  std::shared_ptr<const EpochPlan> plan_;  // null until start_epoch
  int64_t next_to_build_ = 0;              // first batch index no worker has taken yet
  int64_t next_to_deliver_ = 0;            // the batch next() returns next
  std::map<int64_t, Batch> ready_;         // built batches waiting for next(), by batch index
  // Batches of the current epoch whose building threw, by batch index. Once one has failed the
  // workers take no new batch (those after it would never be delivered), but next() still
  // delivers every batch before it.
  std::map<int64_t, std::exception_ptr> failed_;
  std::exception_ptr raised_;  // what next() has raised this epoch; raised again by later calls
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace busi::data
