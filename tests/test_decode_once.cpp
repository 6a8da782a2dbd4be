// Each image file is decoded once before a run's first epoch: the image cache makes the
// near-duplicate signatures from the pixels it decodes, and they equal the ones the grouping made
// from a second, grey decode before (so the groups, and every split, are unchanged).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/grouping.h"
#include "data/image.h"
#include "data/image_cache.h"
#include "data/image_signature.h"
#include "tests/tool_runner.h"
#include "tools/train/prepare_data.h"

using namespace busi;
namespace fs = std::filesystem;

namespace {

const std::string kBusi = std::string(BUSI_SHARED_DIR) + "/busi";

bool same_signature(const data::ImageSignature& a, const data::ImageSignature& b) {
  if (a.key != b.key || a.plain != b.plain || a.fine != b.fine || a.flat != b.flat) return false;
  for (int f = 0; f < data::kResampledPlains; ++f)
    if (a.resampled[f].pixels != b.resampled[f].pixels ||
        a.resampled[f].mean != b.resampled[f].mean ||
        a.resampled[f].inverse_norm != b.resampled[f].inverse_norm)
      return false;
  return true;
}

// The first `per_class` images of each class of BUSI.
data::DatasetIndex busi_subset(int64_t per_class) {
  data::ScanOptions scan;
  scan.verify_decode = false;
  data::DatasetIndex full = data::scan_folder(kBusi, scan);
  data::DatasetIndex index = full;
  index.samples.clear();
  index.duplicate_groups.clear();
  std::vector<int64_t> taken(full.classes.size(), 0);
  for (const data::Sample& s : full.samples)
    if (taken[s.label]++ < per_class) index.samples.push_back(s);
  return index;
}

}  // namespace

TEST_CASE("the cache's signatures equal the grey decode's, for grey and RGB caches") {
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return;
  }
  const data::DatasetIndex index = busi_subset(4);
  REQUIRE(index.size() == 12);
  // What the grouping computed before: each file decoded again, as grey.
  const std::vector<data::ImageSignature> separate = data::compute_signatures(index, 1);
  for (int64_t channels : {1, 3}) {
    CAPTURE(channels);
    data::CacheOptions options;
    options.height = options.width = 32;
    options.channels = channels;
    options.signatures = true;
    data::ImageCache cache(index, options);
    const std::vector<data::ImageSignature> from_cache = cache.take_signatures();
    REQUIRE(from_cache.size() == separate.size());
    for (size_t i = 0; i < separate.size(); ++i) {
      CAPTURE(index.samples[i].relative_path);
      CHECK(same_signature(from_cache[i], separate[i]));
    }
  }
  // The check can fail: a different image's signature is not the same.
  CHECK_FALSE(same_signature(separate[0], separate[1]));
}

TEST_CASE("grey_like_decoder is the PNG decoder's own grey") {
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return;
  }
  const std::string file = kBusi + "/benign/benign (10).png";
  const data::Image grey = data::decode_image_file(file, 1);
  const data::Image rgb = data::decode_image_file(file, 3);
  CHECK(data::grey_like_decoder(rgb).pixels == grey.pixels);
  // On colour: the rule is (77 R + 150 G + 29 B) / 256, truncated.
  data::Image colour(1, 2, 3);
  colour.pixels = {255, 0, 0, 10, 200, 30};
  const data::Image g = data::grey_like_decoder(colour);
  CHECK(g.pixels == std::vector<uint8_t>{static_cast<uint8_t>(77 * 255 >> 8),
                                         static_cast<uint8_t>((770 + 30000 + 870) >> 8)});
}

TEST_CASE("a run's data preparation decodes each image file once") {
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return;
  }
  tools::TrainingSettings s;
  s.data = kBusi;
  s.limit_per_class = 10;
  s.folds = 5;
  s.seed = 42;
  const fs::path run_dir = busi::test::scratch_folder("test_decode_once");
  for (int64_t channels : {1, 3}) {
    CAPTURE(channels);
    data::CacheOptions cache;
    cache.height = cache.width = 32;
    cache.channels = channels;
    const int64_t before = data::images_decoded();
    const tools::PreparedData d = tools::prepare_data(s, run_dir.string(), 1, cache);
    const int64_t decoded = data::images_decoded() - before;
    CHECK(d.index.size() == 30);
    CHECK(d.grouping.method == "near-duplicates");
    CHECK(decoded == d.index.size());  // the cache's decode, and no other
  }
}
