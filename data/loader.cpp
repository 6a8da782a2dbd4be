// BatchLoader: epoch orders, batch building, and the worker threads with their bounded queue.
#include "data/loader.h"

#include <algorithm>
#include <system_error>

#include "data/seeds.h"
#include "kernels/common/error.h"
#include "engine/random.h"

namespace busi::data {

BatchLoader::BatchLoader(const ImageCache& cache, std::vector<int64_t> sample_ids,
                         LoaderOptions options)
    : cache_(cache), sample_ids_(std::move(sample_ids)), options_(std::move(options)) {
  BUSI_CHECK(!sample_ids_.empty(), "BatchLoader: no samples");
  for (int64_t id : sample_ids_)
    BUSI_CHECK(id >= 0 && id < cache_.size(), "BatchLoader: sample id ", id,
               " is not in the image cache (", cache_.size(), " images)");
  BUSI_CHECK(options_.batch_size > 0 && options_.height > 0 && options_.width > 0,
             "BatchLoader: batch size and output size must be positive");
  BUSI_CHECK(options_.normalization.channels() == cache_.channels(), "BatchLoader: normalization '",
             options_.normalization.name, "' is for ", options_.normalization.channels(),
             "-channel images but the cache holds ", cache_.channels(), "-channel images");
  BUSI_CHECK(options_.workers >= 0 && options_.prefetch_batches >= 1,
             "BatchLoader: need workers >= 0 and prefetch_batches >= 1");
  BUSI_CHECK(batches_per_epoch() > 0, "BatchLoader: drop_last with ", samples_per_epoch(),
             " samples and batch size ", options_.batch_size,
             " leaves no batch (use a smaller batch size, or keep the last partial batch)");
  if (options_.augment)
    options_.augmentation.check();
  else
    BUSI_CHECK(options_.eval_crop_fraction > 0 && options_.eval_crop_fraction <= 1,
               "BatchLoader: eval_crop_fraction must be in (0, 1], got ",
               options_.eval_crop_fraction);

  workers_.reserve(options_.workers);  // so that emplace_back below never reallocates
  for (int i = 0; i < options_.workers; ++i) {
    try {
      workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::system_error& e) {
      // A joinable std::thread destroyed during unwinding would call std::terminate: the
      // threads already running are stopped and joined before the error leaves the constructor.
      stop_workers();
      throw Error(detail::concat("BatchLoader: cannot start worker thread ", i + 1, " of ",
                                 options_.workers, " (", e.what(), ")"));
    }
  }
}

BatchLoader::~BatchLoader() { stop_workers(); }

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = samples_per_epoch(), size = options_.batch_size;
  return options_.drop_last ? n / size : (n + size - 1) / size;
}

std::vector<int64_t> shuffled_order(uint64_t seed, int64_t epoch, int64_t n) {
  Generator gen(derive_seed(seed, SeedStream::Order, {static_cast<uint64_t>(epoch)}));
  return gen.permutation(n);
}

std::vector<int64_t> BatchLoader::draw_order(int64_t epoch) const {
  const int64_t n = samples_per_epoch();
  std::vector<int64_t> order;
  if (options_.class_balanced) {
    Generator gen(derive_seed(options_.seed, SeedStream::Order, {static_cast<uint64_t>(epoch)}));
    std::vector<std::vector<int64_t>> by_class(cache_.num_classes());
    for (int64_t id : sample_ids_) by_class[cache_.label(id)].push_back(id);
    std::erase_if(by_class, [](const auto& members) { return members.empty(); });
    const int64_t classes = static_cast<int64_t>(by_class.size());
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<int64_t>& members = by_class[gen.randint(classes)];
      order.push_back(members[gen.randint(static_cast<int64_t>(members.size()))]);
    }
  } else if (options_.shuffle) {
    for (int64_t p : shuffled_order(options_.seed, epoch, n)) order.push_back(sample_ids_[p]);
  } else {
    order = sample_ids_;
  }
  return order;
}

Batch BatchLoader::build_batch(const EpochPlan& plan, int64_t batch_index) const {
  const int64_t begin = batch_index * options_.batch_size;
  const int64_t end =
      std::min(begin + options_.batch_size, static_cast<int64_t>(plan.order.size()));
  const int64_t C = cache_.channels(), H = options_.height, W = options_.width;
  Batch batch;
  batch.inputs = Tensor::empty({end - begin, C, H, W});
  float* images = batch.inputs.data();
  for (int64_t position = begin; position < end; ++position) {
    const int64_t id = plan.order[position];
    Image image;
    if (options_.augment) {
      Generator gen(
          derive_seed(options_.seed, SeedStream::Augment,
                      {static_cast<uint64_t>(plan.epoch), static_cast<uint64_t>(position)}));
      image = augment_image(cache_.image(id), H, W, options_.augmentation, gen);
    } else {
      image = eval_image(cache_.image(id), H, W, options_.eval_crop_fraction);
    }
    if (options_.custom_transform) {
      options_.custom_transform(image, id);
      BUSI_CHECK(image.height == H && image.width == W && image.channels == C,
                 "BatchLoader: custom_transform changed the image's shape");
    }
    options_.normalization.apply(image, images + (position - begin) * C * H * W);
    batch.labels.push_back(cache_.label(id));
    batch.sample_ids.push_back(id);
  }
  return batch;
}

void BatchLoader::start_epoch(int64_t epoch) {
  auto plan = std::make_shared<EpochPlan>();
  plan->epoch = epoch;
  plan->order = draw_order(epoch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    plan_ = std::move(plan);
    next_to_build_ = next_to_deliver_ = 0;
    ready_.clear();
    failed_.clear();
    raised_ = nullptr;
  }
  changed_.notify_all();
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  BUSI_CHECK(plan_ != nullptr, "BatchLoader::next: call start_epoch(epoch) first");
  if (raised_) std::rethrow_exception(raised_);
  if (next_to_deliver_ >= batches_per_epoch()) return std::nullopt;

  if (workers_.empty()) {  // no threads: build the batch here
    try {
      return build_batch(*plan_, next_to_deliver_++);
    } catch (...) {
      raised_ = std::current_exception();
      throw;
    }
  }

  // Wait for this batch, whatever happened to later ones: a later batch may fail first (a
  // worker finished it sooner), but its error waits for its turn.
  changed_.wait(lock, [&] {
    return ready_.count(next_to_deliver_) > 0 || failed_.count(next_to_deliver_) > 0;
  });
  if (failed_.count(next_to_deliver_) > 0) {
    raised_ = failed_.at(next_to_deliver_);
    std::rethrow_exception(raised_);
  }
  Batch batch = std::move(ready_.at(next_to_deliver_));
  ready_.erase(next_to_deliver_++);
  lock.unlock();
  changed_.notify_all();  // a place in the queue is free
  return batch;
}

void BatchLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // Work exists while the epoch has unbuilt batches, none has failed (the batches after a
    // failed one are never delivered), and the queue (batches being built or waiting for
    // next()) holds fewer than prefetch_batches. Every batch before a failed one was taken
    // earlier (batches are taken in order), so it is still built and delivered.
    changed_.wait(lock, [&] {
      return stopping_ || (plan_ && failed_.empty() && next_to_build_ < batches_per_epoch() &&
                           next_to_build_ < next_to_deliver_ + options_.prefetch_batches);
    });
    if (stopping_) return;
    const std::shared_ptr<const EpochPlan> plan = plan_;
    const int64_t batch_index = next_to_build_++;
    lock.unlock();

    Batch batch;
    std::exception_ptr failure;
    try {
      batch = build_batch(*plan, batch_index);
    } catch (...) {
      failure = std::current_exception();
    }

    lock.lock();
    if (plan != plan_) continue;  // start_epoch abandoned this epoch meanwhile
    if (failure)
      failed_.emplace(batch_index, failure);
    else
      ready_.emplace(batch_index, std::move(batch));
    changed_.notify_all();
  }
}

}  // namespace busi::data
