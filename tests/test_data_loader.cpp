// BatchLoader (data/loader.h): batch shapes and contents, epochs, shuffling, drop_last,
// class-balanced sampling, determinism whatever the number of workers, worker errors re-raised
// at their batch's turn, clean shutdown mid-epoch, a worker thread that cannot be started.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <set>
#include <system_error>
#include <thread>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/loader.h"
#include "kernels/common/error.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;

namespace {

// 18 flat 8x8 images: 10 of class a, 5 of b, 3 of c; image k (in sample order) has value 10 + k,
// so a batch's pixel values tell which images it holds.
struct SmallData {
  TempDir dir{"loader"};
  DatasetIndex index;
  std::unique_ptr<ImageCache> cache;
  std::vector<int64_t> all_ids;

  SmallData() {
    const int per_class[3] = {10, 5, 3};
    int value = 10;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < per_class[c]; ++i)
        write_flat_png(
            dir.path() / std::string(1, char('a' + c)) / ("img" + std::to_string(10 + i) + ".png"),
            8, static_cast<uint8_t>(value++), 1);
    index = scan_folder(dir.str());
    cache = std::make_unique<ImageCache>(index, CacheOptions{8, 8, 3, 2});
    for (int64_t id = 0; id < index.size(); ++id) all_ids.push_back(id);
  }
};

// Pixel values passed through unchanged, so tests can read the images back from the tensor.
Normalization identity_normalization() { return {"identity", false, 1.0, {0, 0, 0}, {1, 1, 1}}; }

LoaderOptions small_options() {
  LoaderOptions options;
  options.batch_size = 4;
  options.height = options.width = 8;
  options.normalization = identity_normalization();
  options.seed = 9;
  return options;
}

std::vector<Batch> whole_epoch(BatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> ids_of(const std::vector<Batch>& batches) {
  std::vector<int64_t> ids;
  for (const Batch& batch : batches)
    ids.insert(ids.end(), batch.sample_ids.begin(), batch.sample_ids.end());
  return ids;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].sample_ids != b[i].sample_ids || a[i].labels != b[i].labels ||
        a[i].inputs.to_vector() != b[i].inputs.to_vector())
      return false;
  return true;
}

}  // namespace

TEST_CASE("loader: batches in order, NCHW float32, labels and pixels of the right images") {
  SmallData data;
  LoaderOptions options = small_options();
  options.shuffle = false;
  BatchLoader loader(*data.cache, data.all_ids, options);
  CHECK(loader.batches_per_epoch() == 5);
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  REQUIRE(batches.size() == 5);
  CHECK(batches[0].inputs.shape() == busi::Shape{4, 3, 8, 8});
  CHECK(batches[4].inputs.shape() == busi::Shape{2, 3, 8, 8});  // the last, partial batch kept
  CHECK(ids_of(batches) == data.all_ids);
  for (const Batch& batch : batches) {
    const std::vector<float> values = batch.inputs.to_vector();
    for (size_t i = 0; i < batch.sample_ids.size(); ++i) {
      const int64_t id = batch.sample_ids[i];
      CHECK(batch.labels[i] == data.index.samples[id].label);
      CHECK(values[i * 3 * 64] == float(10 + id));        // first pixel, channel 0
      CHECK(values[i * 3 * 64 + 191] == float(10 + id));  // last pixel, channel 2
    }
  }
  CHECK_FALSE(loader.next().has_value());  // the epoch stays over
}

TEST_CASE("loader: drop_last drops the partial batch") {
  SmallData data;
  LoaderOptions options = small_options();
  options.drop_last = true;
  BatchLoader loader(*data.cache, data.all_ids, options);
  CHECK(loader.batches_per_epoch() == 4);
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  REQUIRE(batches.size() == 4);
  for (const Batch& batch : batches) CHECK(batch.sample_ids.size() == 4);
}

TEST_CASE("loader: shuffle is a new permutation per epoch, the same for the same seed") {
  SmallData data;
  BatchLoader loader(*data.cache, data.all_ids, small_options());
  const std::vector<int64_t> epoch0 = ids_of(whole_epoch(loader, 0));
  const std::vector<int64_t> epoch1 = ids_of(whole_epoch(loader, 1));
  CHECK(std::multiset<int64_t>(epoch0.begin(), epoch0.end()) ==
        std::multiset<int64_t>(data.all_ids.begin(), data.all_ids.end()));
  CHECK(std::multiset<int64_t>(epoch1.begin(), epoch1.end()) ==
        std::multiset<int64_t>(data.all_ids.begin(), data.all_ids.end()));
  CHECK(epoch0 != epoch1);
  CHECK(epoch0 != data.all_ids);
  CHECK(ids_of(whole_epoch(loader, 0)) == epoch0);  // an epoch replays exactly

  BatchLoader same_seed(*data.cache, data.all_ids, small_options());
  CHECK(ids_of(whole_epoch(same_seed, 1)) == epoch1);
  LoaderOptions other = small_options();
  other.seed = 10;
  BatchLoader other_seed(*data.cache, data.all_ids, other);
  CHECK(ids_of(whole_epoch(other_seed, 0)) != epoch0);
}

TEST_CASE("loader: augmented batches identical with 0, 1 or 3 workers and any queue size") {
  SmallData data;
  LoaderOptions options = small_options();
  options.augment = true;
  options.height = options.width = 6;
  std::vector<std::vector<Batch>> runs;
  for (auto [workers, prefetch] : {std::pair{0, 1}, {1, 1}, {3, 2}, {3, 8}}) {
    options.workers = workers;
    options.prefetch_batches = prefetch;
    BatchLoader loader(*data.cache, data.all_ids, options);
    runs.push_back(whole_epoch(loader, 3));
  }
  REQUIRE(runs[0].size() == 5);
  CHECK(runs[0][0].inputs.shape() == busi::Shape{4, 3, 6, 6});
  for (size_t r = 1; r < runs.size(); ++r) CHECK(same_batches(runs[0], runs[r]));
}

TEST_CASE("loader: class-balanced sampling draws every class about equally often") {
  SmallData data;
  LoaderOptions options = small_options();
  options.class_balanced = true;
  BatchLoader loader(*data.cache, data.all_ids, options);
  CHECK(loader.batches_per_epoch() == 5);  // an epoch is still 18 draws
  std::vector<int64_t> per_class(3, 0);
  for (int64_t epoch = 0; epoch < 40; ++epoch)
    for (const Batch& batch : whole_epoch(loader, epoch))
      for (int64_t label : batch.labels) ++per_class[label];
  // 720 draws: about 240 each (plain shuffling would give 400 / 200 / 120).
  for (int64_t count : per_class) {
    CHECK(count > 190);
    CHECK(count < 290);
  }
}

TEST_CASE("loader: an exception in a worker is re-raised by next(); the loader recovers") {
  SmallData data;
  std::atomic<bool> fail{true};
  LoaderOptions options = small_options();
  options.shuffle = false;
  options.custom_transform = [&fail](Image&, int64_t sample_id) {
    if (fail && sample_id == 9) throw busi::Error("cannot transform sample 9");
  };
  BatchLoader loader(*data.cache, data.all_ids, options);
  loader.start_epoch(0);
  std::string error;
  try {
    while (loader.next()) {
    }
  } catch (const busi::Error& e) {
    error = e.what();
  }
  CHECK(error == "cannot transform sample 9");
  CHECK_THROWS_AS(loader.next(), busi::Error);  // the epoch stays failed

  fail = false;
  CHECK(ids_of(whole_epoch(loader, 0)) == data.all_ids);
}

TEST_CASE("loader: a failing batch is raised at its turn, after every batch before it") {
  SmallData data;
  LoaderOptions options = small_options();
  options.shuffle = false;  // batch b holds samples 4b .. 4b + 3
  options.prefetch_batches = 5;
  for (int workers : {0, 1, 4}) {
    CAPTURE(workers);
    options.workers = workers;
    // Batch 3 (sample 13) fails at once. With 4 workers batches 0-3 are built together, and
    // batch 0 waits until batch 3 has failed, so its failure is the first one seen.
    std::atomic<bool> batch3_failed{false};
    options.custom_transform = [&, workers](Image&, int64_t sample_id) {
      if (sample_id == 13) {
        batch3_failed = true;
        throw busi::Error("sample 13 fails");
      }
      if (sample_id == 0 && workers == 4) {
        for (int wait = 0; wait < 500 && !batch3_failed; ++wait)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it be recorded
      }
    };
    BatchLoader loader(*data.cache, data.all_ids, options);
    loader.start_epoch(0);
    std::vector<Batch> delivered;
    std::string error;
    try {
      while (auto batch = loader.next()) delivered.push_back(std::move(*batch));
    } catch (const busi::Error& e) {
      error = e.what();
    }
    CHECK(error == "sample 13 fails");
    REQUIRE(delivered.size() == 3);
    CHECK(ids_of(delivered) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    // The epoch stays failed, with the same error.
    error.clear();
    try {
      loader.next();
    } catch (const busi::Error& e) {
      error = e.what();
    }
    CHECK(error == "sample 13 fails");
  }
}

TEST_CASE("loader: of two failing batches the earlier one is raised, whichever failed first") {
  SmallData data;
  LoaderOptions options = small_options();
  options.shuffle = false;
  options.workers = 4;
  options.prefetch_batches = 5;
  // Batch 3 fails at once; batch 1 fails only after that.
  std::atomic<bool> batch3_failed{false};
  options.custom_transform = [&](Image&, int64_t sample_id) {
    if (sample_id == 13) {
      batch3_failed = true;
      throw busi::Error("sample 13 fails");
    }
    if (sample_id == 5) {
      for (int wait = 0; wait < 500 && !batch3_failed; ++wait)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      throw busi::Error("sample 5 fails");
    }
  };
  BatchLoader loader(*data.cache, data.all_ids, options);
  loader.start_epoch(0);
  REQUIRE(loader.next().has_value());  // batch 0
  std::string error;
  try {
    loader.next();
  } catch (const busi::Error& e) {
    error = e.what();
  }
  CHECK(error == "sample 5 fails");
}

TEST_CASE("loader: restart and shutdown in the middle of an epoch") {
  SmallData data;
  LoaderOptions options = small_options();
  options.prefetch_batches = 1;
  {
    BatchLoader loader(*data.cache, data.all_ids, options);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
    // A new epoch abandons the rest of epoch 0 and is complete on its own.
    const std::vector<int64_t> epoch1 = ids_of(whole_epoch(loader, 1));
    CHECK(epoch1.size() == data.all_ids.size());
    BatchLoader fresh(*data.cache, data.all_ids, options);
    CHECK(ids_of(whole_epoch(fresh, 1)) == epoch1);
    loader.start_epoch(2);
    CHECK(loader.next().has_value());
  }  // destroyed with the workers waiting on a full queue: must return
  {
    BatchLoader never_started(*data.cache, data.all_ids, options);
    CHECK_THROWS_AS(never_started.next(), busi::Error);
  }
}

TEST_CASE("loader: bad options are errors") {
  SmallData data;
  LoaderOptions options = small_options();
  CHECK_THROWS_AS(BatchLoader(*data.cache, {}, options), busi::Error);
  CHECK_THROWS_AS(BatchLoader(*data.cache, {0, 18}, options), busi::Error);
  options.batch_size = 0;
  CHECK_THROWS_AS(BatchLoader(*data.cache, data.all_ids, options), busi::Error);
  options = small_options();
  options.normalization = {"grey", false, 1.0, {0}, {1}};  // 1 channel, the cache holds 3
  CHECK_THROWS_AS(BatchLoader(*data.cache, data.all_ids, options), busi::Error);
  options = small_options();
  options.eval_crop_fraction = 0;
  CHECK_THROWS_AS(BatchLoader(*data.cache, data.all_ids, options), busi::Error);
  options = small_options();
  options.augment = true;
  options.augmentation.crop_scale_min = 0;
  CHECK_THROWS_AS(BatchLoader(*data.cache, data.all_ids, options), busi::Error);
}

TEST_CASE("loader: drop_last with fewer samples than a batch is a clear error") {
  SmallData data;
  LoaderOptions options = small_options();
  options.drop_last = true;
  options.batch_size = 4;
  std::string error;
  try {
    BatchLoader loader(*data.cache, {0, 1, 2}, options);
  } catch (const busi::Error& e) {
    error = e.what();
  }
  CHECK(error.find("drop_last with 3 samples and batch size 4 leaves no batch") !=
        std::string::npos);
  BatchLoader exactly_one(*data.cache, {0, 1, 2, 3}, options);
  CHECK(exactly_one.batches_per_epoch() == 1);
  options.drop_last = false;
  BatchLoader partial(*data.cache, {0, 1, 2}, options);
  CHECK(partial.batches_per_epoch() == 1);
}

TEST_CASE("loader: a worker thread that cannot be started is an error, not std::terminate") {
  SmallData data;
  // In a child without root's privileges (root ignores the limit), RLIMIT_NPROC caps the threads
  // of this user. The smallest soft limit at which one probe thread starts leaves room for
  // exactly one thread: of 3 workers the first starts and the second cannot. Without the join
  // of the started thread, the constructor's unwinding calls std::terminate (SIGABRT).
  // Exit 0: the constructor threw busi::Error (its message is the report); 2: the limit could
  // not be set up (skipped); 3: the constructor did not fail.
  const ChildResult result = run_unprivileged([&](std::string& report) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NPROC, &limit) != 0) return 2;
    bool fits_one = false;
    for (rlim_t soft = 1; soft < 4096 && soft <= limit.rlim_max && !fits_one; ++soft) {
      rlimit lower = limit;
      lower.rlim_cur = soft;
      if (::setrlimit(RLIMIT_NPROC, &lower) != 0) return 2;
      try {
        std::thread probe([] {});
        probe.join();
        fits_one = true;
      } catch (const std::system_error&) {
      }
    }
    if (!fits_one) return 2;
    // An exited thread may still count for a moment after join.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    LoaderOptions options = small_options();
    options.workers = 3;
    try {
      BatchLoader loader(*data.cache, data.all_ids, options);
    } catch (const busi::Error& e) {
      report = e.what();
      return 0;
    }
    return 3;
  });
  if (!result.dropped || result.exit_code == 2) {
    MESSAGE("skipped: cannot limit the number of threads here (" << result.report << ")");
    return;
  }
  CHECK(result.signal == 0);  // SIGABRT would be std::terminate
  CHECK(result.exit_code == 0);
  CHECK(result.report.find("BatchLoader: cannot start worker thread 2 of 3") != std::string::npos);
}
