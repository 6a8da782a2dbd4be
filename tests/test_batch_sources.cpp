// The trainer's in-memory batch source (tools/train/batch_source.h, TensorSource): every sample
// once per epoch, labels that follow their rows, and with several views (VGG16's cached augmented
// features) a view per sample that is reproducible from (seed, epoch) and varies across epochs;
// presets_help written from the presets themselves (tools/train/presets.h).
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <vector>

#include "engine/tensor.h"
#include "tools/train/batch_source.h"
#include "tools/train/presets.h"

using namespace busi;
using namespace busi::tools;

namespace {

// Rows (views * n, 2): row v * n + i holds (i, v), so a batch says which sample and view it took.
Tensor tagged_rows(int64_t n, int64_t views) {
  std::vector<float> values;
  for (int64_t v = 0; v < views; ++v)
    for (int64_t i = 0; i < n; ++i) {
      values.push_back(static_cast<float>(i));
      values.push_back(static_cast<float>(v));
    }
  return Tensor::from_vector(values, {views * n, 2});
}

// One epoch as (sample, view) pairs in the order served, checking labels and ids on the way.
std::vector<std::pair<int64_t, int64_t>> one_epoch(TensorSource& source, int64_t epoch,
                                                   const std::vector<int64_t>& labels,
                                                   const std::vector<int64_t>& ids) {
  std::vector<std::pair<int64_t, int64_t>> served;
  source.start_epoch(epoch);
  while (std::optional<data::Batch> batch = source.next()) {
    const std::vector<float> x = batch->inputs.to_vector();
    REQUIRE(x.size() == 2 * batch->labels.size());
    for (size_t r = 0; r < batch->labels.size(); ++r) {
      const auto sample = static_cast<int64_t>(x[2 * r]);
      const auto view = static_cast<int64_t>(x[2 * r + 1]);
      CHECK(batch->labels[r] == labels[static_cast<size_t>(sample)]);
      CHECK(batch->sample_ids[r] == ids[static_cast<size_t>(sample)]);
      served.emplace_back(sample, view);
    }
  }
  return served;
}

}  // namespace

TEST_CASE("TensorSource with views: each sample once per epoch, in a view drawn per epoch") {
  const int64_t n = 11, views = 4, batch = 3;  // 11 = 3 + 3 + 3 + 2: a short last batch
  std::vector<int64_t> labels, ids;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % 3);
    ids.push_back(100 + i);
  }
  TensorSource source(tagged_rows(n, views), labels, ids, batch, true, 7, views);
  CHECK(source.samples_per_epoch() == n);
  CHECK(source.batches_per_epoch() == 4);

  std::map<int64_t, std::set<int64_t>> views_seen;  // sample -> views it was served in
  std::set<std::vector<std::pair<int64_t, int64_t>>> epochs;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    const auto served = one_epoch(source, epoch, labels, ids);
    REQUIRE(served.size() == static_cast<size_t>(n));
    std::set<int64_t> samples;
    for (const auto& [sample, view] : served) {
      samples.insert(sample);
      CHECK(view >= 0);
      CHECK(view < views);
      views_seen[sample].insert(view);
    }
    CHECK(samples.size() == static_cast<size_t>(n));  // every sample exactly once
    epochs.insert(served);
    // The same (seed, epoch) serves the same samples in the same views.
    CHECK(one_epoch(source, epoch, labels, ids) == served);
  }
  CHECK(epochs.size() == 20);  // orders and views differ from epoch to epoch
  // Over 20 epochs a sample stays in one view with probability 4 * (1/4)^20: never, in practice.
  for (const auto& [sample, seen] : views_seen) CHECK(seen.size() > 1);
}

TEST_CASE("TensorSource: one view serves the rows as they are; sizes must agree") {
  const std::vector<int64_t> labels = {0, 1, 2}, ids = {5, 6, 7};
  TensorSource plain(tagged_rows(3, 1), labels, ids, 2, false, 1);
  const auto served = one_epoch(plain, 0, labels, ids);
  CHECK(served == std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {1, 0}, {2, 0}});
  // Three views need 3 * 3 rows.
  CHECK_THROWS_WITH(TensorSource(tagged_rows(3, 2), labels, ids, 2, true, 1, 3),
                    doctest::Contains("disagree"));
  CHECK_THROWS_WITH(TensorSource(tagged_rows(3, 1), labels, ids, 2, true, 1, 0),
                    doctest::Contains("disagree"));
}

TEST_CASE("presets_help lists every preset's flags, wrapped below 100 columns") {
  std::vector<Preset> presets = {{"short", {{"--a", "1"}}}, {"long-name", {}}};
  for (int i = 0; i < 12; ++i)
    presets[1].values.push_back({"--flag-number-" + std::to_string(i), std::to_string(i * 1000)});
  const std::string text = presets_help(presets);
  CHECK(text.find("presets (values for the flags not given):\n") == 0);
  CHECK(text.find("  short      --a 1\n") != std::string::npos);
  for (int i = 0; i < 12; ++i)
    CHECK(text.find("--flag-number-" + std::to_string(i) + " " + std::to_string(i * 1000)) !=
          std::string::npos);
  size_t start = 0, lines = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    CHECK(end - start < 100);
    start = end + 1;
    ++lines;
  }
  CHECK(lines >= 4);  // the header, "short", and "long-name" over at least two lines
}
