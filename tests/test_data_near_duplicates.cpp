// Near-duplicate detection (data/image_signature.h, aligned_similarity.h, lsh.h,
// near_duplicates.h) on ../shared/busi: real pairs confirmed by eye, synthetic transforms of BUSI
// images (resize, shift, crop, brightness, JPEG, a drawn cross) that must be found, distinct
// images that must not, and LSH against brute force. Skipped with a message without the data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "data/aligned_similarity.h"
#include "data/dataset.h"
#include "data/grouping.h"
#include "data/image.h"
#include "data/image_signature.h"
#include "data/near_duplicates.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;

namespace {

const fs::path kBusi = fs::path(BUSI_SHARED_DIR) / "busi";

bool have_busi() {
  if (fs::is_directory(kBusi)) return true;
  MESSAGE("skipped: " << kBusi.string() << " is absent");
  return false;
}

// "benign 12" -> the decoded grey image of benign/benign (12).png.
Image busi_image(const std::string& name) {
  const std::string cls = name.substr(0, name.find(' '));
  const std::string number = name.substr(name.find(' ') + 1);
  return decode_image_file((kBusi / cls / (cls + " (" + number + ").png")).string(), 1);
}

struct Similarity {
  float plain, fine;
};
Similarity similarity(const Image& a, const Image& b) {
  const ImageSignature sa = make_signature(a), sb = make_signature(b);
  return {plain_correlation_any_filter(sa, sb), fine_similarity(sa, sb)};
}

// The image moved by (dy, dx) pixels, the uncovered border black.
Image shifted(const Image& image, int64_t dy, int64_t dx) {
  Image out(image.height, image.width, 1);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x) {
      const int64_t sy = y - dy, sx = x - dx;
      out.at(y, x, 0) =
          sy >= 0 && sy < image.height && sx >= 0 && sx < image.width ? image.at(sy, sx, 0) : 0;
    }
  return out;
}

// v -> clamp(gain v + offset).
Image brightness(const Image& image, double gain, double offset) {
  Image out = image;
  for (uint8_t& v : out.pixels)
    v = static_cast<uint8_t>(std::clamp(std::lround(gain * v + offset), 0L, 255L));
  return out;
}

// Encoded as JPEG at `quality` by stb_image_write and decoded again.
Image jpeg(const Image& image, int quality) {
  std::vector<uint8_t> bytes;
  stbi_write_jpg_to_func(
      [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<uint8_t>*>(context);
        out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
      },
      &bytes, static_cast<int>(image.width), static_cast<int>(image.height), 1, image.pixels.data(),
      quality);
  return decode_image(bytes, 1, "jpeg");
}

// Caliper marks as a sonographer draws them: two white crosses and a dotted line between them.
Image with_cross(const Image& image) {
  Image out = image;
  const int64_t s = image.height / 256 > 0 ? image.height / 256 : 1;
  for (const auto& [cy, cx] : {std::pair<int64_t, int64_t>{90 * s, 80 * s}, {150 * s, 170 * s}})
    for (int64_t d = -12 * s; d <= 12 * s; ++d)
      for (int64_t w = -s; w <= s; ++w) {
        out.at(cy + d, cx + w, 0) = 255;
        out.at(cy + w, cx + d, 0) = 255;
      }
  for (int64_t t = 0; t < 90 * s; t += 4 * s) out.at(90 * s + t * 60 / 90, 80 * s + t, 0) = 255;
  return out;
}

// A burnt-in caption as scanners write one ("L LOQ", "RT8"): a row of white block letters, 14 px
// high, in the lower left.
Image with_caption(const Image& image) {
  Image out = image;
  const int64_t s = image.height / 256 > 0 ? image.height / 256 : 1;
  const int64_t top = image.height * 3 / 4, left = image.width / 5;
  for (int64_t letter = 0; letter < 5; ++letter) {
    const int64_t x0 = left + letter * 12 * s;
    for (int64_t y = 0; y < 14 * s; ++y)
      for (int64_t x = 0; x < 8 * s; ++x) {
        // Each letter a different pattern of strokes: a bar down its left side, and bars across
        // at the top, middle or bottom by the letter's number.
        const bool stroke = x < 2 * s || (letter % 2 == 0 && y < 2 * s) ||
                            (letter % 3 == 0 && y >= 6 * s && y < 8 * s) || y >= 12 * s;
        if (stroke) out.at(top + y, x0 + x, 0) = 235;
      }
  }
  return out;
}

// The centre-shifted crop: rows [top, top + h), columns [left, left + w), resized to the size.
Image cropped(const Image& image, int64_t top, int64_t left, int64_t h, int64_t w) {
  return resize_image(crop_image(image, top, left, h, w), image.height, image.width);
}

const NearDuplicateOptions kOptions;

// Each pair of BUSI images ("benign 12") is, or is not, a near-duplicate pair.
void check_pairs(const std::vector<std::pair<std::string, std::string>>& pairs, bool expected) {
  for (const auto& [a, b] : pairs) {
    const Similarity s = similarity(busi_image(a), busi_image(b));
    CAPTURE(a);
    CAPTURE(b);
    CAPTURE(s.plain);
    CAPTURE(s.fine);
    CHECK(is_near_duplicate(s.plain, s.fine, kOptions) == expected);
  }
}

// The originals of the synthetic tests: two of each class and one more benign.
const std::vector<std::string> kNames = {"benign 12",    "benign 100", "benign 250", "malignant 10",
                                         "malignant 60", "normal 12",  "normal 70"};

}  // namespace

TEST_CASE("near-duplicates: BUSI pairs confirmed by eye are found, the cross-class ones too") {
  if (!have_busi()) return;
  // Looked at side by side (docs/near_duplicates.md): the same scan, re-cropped, marked or filed
  // twice. The first five are the cross-class pairs.
  const std::vector<std::pair<std::string, std::string>> same = {
      {"benign 131", "malignant 51"},     {"benign 269", "normal 1"},
      {"benign 333", "malignant 77"},     {"benign 435", "malignant 145"},
      {"benign 42", "malignant 51"},      {"benign 433", "benign 435"},
      {"benign 11", "benign 328"},        {"benign 125", "benign 126"},
      {"normal 10", "normal 9"},          {"malignant 80", "malignant 81"},
      {"benign 154", "benign 21"},        {"benign 213", "benign 253"},
      {"malignant 106", "malignant 107"}, {"malignant 77", "malignant 78"},
      {"malignant 120", "malignant 122"}};
  check_pairs(same, true);
}

TEST_CASE("near-duplicates: pairs that only another thumbnail filter puts at 0.93 are grouped") {
  if (!have_busi()) return;
  // An independent check (PIL's bilinear thumbnails, issue 24) found these two test images with a
  // twin in training: the same lesion, the same caption in the first. By the area thumbnails the
  // engine used alone they correlate below 0.93; under another filter, above.
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"malignant 139", "malignant 207"}, {"malignant 24", "malignant 25"}}) {
    const ImageSignature sa = make_signature(busi_image(a)), sb = make_signature(busi_image(b));
    CAPTURE(a);
    CAPTURE(b);
    CHECK(plain_correlation(sa, sb) < kOptions.plain_threshold);
    CHECK(plain_correlation_any_filter(sa, sb) >= kOptions.plain_threshold);
  }
  // Another view of one lesion (the calipers moved): plain 0.92, fine 0.37 to 0.39, below each
  // threshold alone; grouped by the two together. Looked at (docs/near_duplicates.md).
  check_pairs(
      {{"benign 204", "benign 206"}, {"benign 204", "benign 303"}, {"benign 249", "benign 303"}},
      true);
}

TEST_CASE("near-duplicates: with few images every pair is compared by the plain measure") {
  if (!have_busi()) return;
  // A gate nothing passes: LSH compares no pair, so what is found is the exhaustive plain pass's
  // alone, and it is every pair at the plain threshold; with the pass off, nothing is found.
  ScanOptions scan;
  scan.verify_decode = false;
  const DatasetIndex index = scan_folder(kBusi.string(), scan);
  const std::vector<ImageSignature> signatures = compute_signatures(index);
  NearDuplicateOptions options;
  options.gate = 1.01f;
  const NearDuplicates found = find_near_duplicates(signatures, options);
  int64_t expected = 0;
  for (int64_t a = 0; a < index.size(); ++a)
    for (int64_t b = a + 1; b < index.size(); ++b)
      expected += plain_correlation_any_filter(signatures[a], signatures[b]) >= 0.93f;
  CHECK(found.near_duplicate_pairs() == expected);
  CHECK(expected > 150);
  options.exhaustive_plain_limit = 0;
  CHECK(find_near_duplicates(signatures, options).near_duplicate_pairs() == 0);
}

TEST_CASE("near-duplicates: different lesions that look alike are kept apart") {
  if (!have_busi()) return;
  // Confirmed different by eye; their plain thumbnails correlate at 0.82 to 0.91 (every BUSI
  // image is bright at the top and dark below), their aligned fine detail at 0.13 to 0.37.
  const std::vector<std::pair<std::string, std::string>> different = {
      {"malignant 181", "malignant 72"}, {"malignant 177", "malignant 208"},
      {"benign 62", "malignant 1"},      {"malignant 103", "malignant 19"},
      {"benign 59", "malignant 48"},     {"malignant 25", "malignant 39"},
      {"malignant 144", "malignant 63"}, {"benign 140", "malignant 1"},
      {"malignant 168", "malignant 19"}, {"benign 134", "malignant 37"}};
  check_pairs(different, false);
}

TEST_CASE("near-duplicates: resized, cropped, brighter, JPEG, marked copies are grouped") {
  if (!have_busi()) return;
  // Through LSH, the key gate and both checks, as group_duplicates does: each version must be a
  // near-duplicate of its original, and nothing may join two originals.
  std::vector<ImageSignature> signatures;
  std::vector<int64_t> family;  // which original each signature comes from
  std::vector<std::string> what;
  for (size_t k = 0; k < kNames.size(); ++k) {
    const Image im = busi_image(kNames[k]);
    const int64_t H = im.height, W = im.width;
    const std::vector<std::pair<std::string, Image>> versions = {
        {"original", im},
        {"resized to 128", resize_image(im, H / 2, W / 2)},
        {"resized to 300 x 220", resize_image(im, 300, 220)},
        {"cropped 5 % around", cropped(im, H / 40, W / 40, H - H / 20, W - W / 20)},
        {"cropped 5 % off the left", cropped(im, 0, W / 20, H, W - W / 20)},
        {"window moved 3 %", cropped(im, H / 32, W / 32, H - H / 16, W - W / 16)},
        {"brighter, more contrast", brightness(im, 1.25, 10)},
        {"darker, less contrast", brightness(im, 0.75, -5)},
        {"JPEG quality 40", jpeg(im, 40)},
        {"a cross drawn", with_cross(im)},
        {"a caption written", with_caption(im)},
        {"a caption and calipers", with_caption(with_cross(im))},
        {"cropped 5 %, brighter, JPEG, cross",
         with_cross(jpeg(brightness(cropped(im, 0, W / 20, H - H / 20, W - W / 20), 1.1, 5), 60))}};
    for (const auto& [label, version] : versions) {
      signatures.push_back(make_signature(version));
      family.push_back(static_cast<int64_t>(k));
      what.push_back(kNames[k] + ", " + label);
    }
  }
  const NearDuplicates found = find_near_duplicates(signatures, kOptions);
  std::vector<std::pair<int64_t, int64_t>> edges;
  for (const ComparedPair& p : found.compared) {
    if (!p.near_duplicate) continue;
    edges.push_back({p.a, p.b});
    CAPTURE(what[p.a]);
    CAPTURE(what[p.b]);
    CHECK(family[p.a] == family[p.b]);  // never across originals
  }
  // Every version is a near-duplicate of its original directly (not only through another).
  const int64_t per_family = static_cast<int64_t>(signatures.size() / kNames.size());
  for (int64_t i = 0; i < static_cast<int64_t>(signatures.size()); ++i) {
    if (i % per_family == 0) continue;
    const int64_t original = i / per_family * per_family;
    const auto pair =
        std::find_if(found.compared.begin(), found.compared.end(),
                     [&](const ComparedPair& p) { return p.a == original && p.b == i; });
    CAPTURE(what[i]);
    REQUIRE(pair != found.compared.end());
    CAPTURE(pair->key);
    CAPTURE(pair->plain);
    CAPTURE(pair->fine);
    CHECK(pair->near_duplicate);
  }
  CHECK(connected_groups(static_cast<int64_t>(signatures.size()), edges).size() == kNames.size());
}

TEST_CASE("near-duplicates: the similarity recognises 10 % shifts and crops") {
  if (!have_busi()) return;
  // Compared directly: the aligned fine check finds these, but their 16 px keys can correlate
  // below the gate (0.2 to 0.9 on these images: the tissue layers move), so grouping, which only
  // compares pairs past LSH and the gate, finds some of them only (counted, not required).
  int64_t past_gate = 0, total = 0;
  for (const std::string& name : kNames) {
    const Image im = busi_image(name);
    const int64_t H = im.height, W = im.width;
    const std::vector<std::tuple<std::string, Image, Image>> pairs = {
        {"shifted 10 % right, 5 % down (black border)", im, shifted(im, H / 20, W / 10)},
        {"shifted 10 % left and up (black border)", im, shifted(im, -H / 10, -W / 10)},
        {"cropped 10 % off the top and left", im,
         cropped(im, H / 10, W / 10, H - H / 10, W - W / 10)},
        {"cropped 10 % at the bottom", im, cropped(im, 0, 0, H - H / 10, W)},
        {"two 90 % windows 10 % apart", cropped(im, 0, 0, H - H / 10, W - W / 10),
         cropped(im, H / 10, W / 10, H - H / 10, W - W / 10)}};
    for (const auto& [label, a, b] : pairs) {
      const ImageSignature sa = make_signature(a), sb = make_signature(b);
      const float fine = fine_similarity(sa, sb);
      CAPTURE(name);
      CAPTURE(label);
      CAPTURE(fine);
      CHECK(fine >= kOptions.fine_threshold);
      past_gate += key_correlation(sa, sb) >= kOptions.gate;
      ++total;
    }
  }
  MESSAGE(past_gate << " of " << total << " 10 % shifts and crops have keys past the gate");
}

TEST_CASE("near-duplicates: LSH finds what comparing every pair finds, on BUSI") {
  if (!have_busi()) return;
  ScanOptions scan;
  scan.verify_decode = false;
  const DatasetIndex index = scan_folder(kBusi.string(), scan);
  const std::vector<ImageSignature> signatures = compute_signatures(index);
  const NearDuplicates found = find_near_duplicates(signatures, kOptions);
  std::set<std::pair<int64_t, int64_t>> by_lsh;
  for (const ComparedPair& p : found.compared)
    if (p.near_duplicate) by_lsh.insert({p.a, p.b});

  // Brute force: every pair past the key gate, both checks.
  std::vector<std::pair<int64_t, int64_t>> gated;
  for (int64_t a = 0; a < index.size(); ++a)
    for (int64_t b = a + 1; b < index.size(); ++b)
      if (key_correlation(signatures[a], signatures[b]) >= kOptions.gate) gated.push_back({a, b});
  std::vector<QueryPyramid> queries(index.size());
  std::vector<TargetPyramid> targets(index.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < index.size(); ++i) {
    queries[i] = make_query_pyramid(signatures[i]);
    targets[i] = make_target_pyramid(signatures[i]);
  }
  std::vector<char> near(gated.size(), 0);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t p = 0; p < static_cast<int64_t>(gated.size()); ++p) {
    const auto [a, b] = gated[p];
    const float fine = std::max(directional_similarity(queries[a], targets[b]),
                                directional_similarity(queries[b], targets[a]));
    near[p] = is_near_duplicate(plain_correlation_any_filter(signatures[a], signatures[b]), fine,
                                kOptions);
  }
  std::set<std::pair<int64_t, int64_t>> by_all;
  for (size_t p = 0; p < gated.size(); ++p)
    if (near[p]) by_all.insert(gated[p]);
  // The plain measure alone, on every pair, gated or not (what the exhaustive pass adds).
  for (int64_t a = 0; a < index.size(); ++a)
    for (int64_t b = a + 1; b < index.size(); ++b)
      if (plain_correlation_any_filter(signatures[a], signatures[b]) >= kOptions.plain_threshold)
        by_all.insert({a, b});
  MESSAGE(index.size() << " images: " << gated.size() << " pairs past the gate of all "
                       << index.size() * (index.size() - 1) / 2 << "; LSH compared "
                       << found.compared.size() << "; near-duplicate pairs: " << by_all.size()
                       << " by brute force, " << by_lsh.size() << " by LSH");
  for (const auto& pair : by_all)
    if (!by_lsh.count(pair))
      MESSAGE("missed by LSH: " << index.samples[pair.first].relative_path << " ~ "
                                << index.samples[pair.second].relative_path);
  CHECK(std::includes(by_all.begin(), by_all.end(), by_lsh.begin(), by_lsh.end()));
  // LSH is probabilistic (lsh.h: recall 0.96 at key correlation 0.8); on BUSI it misses at most
  // a few percent of the pairs, and none of the cross-class ones (checked in the grouping test).
  CHECK(by_lsh.size() * 100 >= by_all.size() * 97);
}
