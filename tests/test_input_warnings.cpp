// The out-of-distribution warnings of data/image_warnings.h: tiny, elongated and colour images
// are named, and none of BUSI's own images is (the thresholds' margins measured on them).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "data/image.h"
#include "data/image_warnings.h"

using namespace busi;
namespace fs = std::filesystem;

namespace {

data::Image grey(int64_t h, int64_t w) {
  data::Image image(h, w, 1);
  std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(90));
  return image;
}

bool mentions(const std::vector<std::string>& warnings, const std::string& text) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("input warnings: tiny, elongated and colour images are named; a BUSI-like one is not") {
  CHECK(data::input_warnings(grey(256, 256)).empty());
  CHECK(data::input_warnings(grey(64, 64)).empty());  // the smallest side without a warning

  const auto tiny = data::input_warnings(grey(3, 5));
  REQUIRE(tiny.size() == 1);
  CHECK(tiny[0].find("the image is 5 x 3 pixels") != std::string::npos);
  CHECK(mentions(data::input_warnings(grey(63, 200)), "a side under 64 px"));

  const auto strip = data::input_warnings(grey(30, 4000));  // tiny and elongated
  CHECK(strip.size() == 2);
  CHECK(mentions(strip, "133.3:1"));
  CHECK(data::input_warnings(grey(100, 300)).empty());  // 3:1 exactly is still accepted
  CHECK(mentions(data::input_warnings(grey(100, 301)), "3.0:1"));
  CHECK(mentions(data::input_warnings(grey(700, 100)), "7.0:1"));  // portrait too

  // Colour: grey stored as RGB is grey; a red-and-green picture is not.
  data::Image rgb(128, 128, 3);
  std::fill(rgb.pixels.begin(), rgb.pixels.end(), uint8_t(120));
  CHECK(data::colour_difference(rgb) == 0.0);
  CHECK(data::input_warnings(rgb).empty());
  for (int64_t y = 0; y < 128; ++y)
    for (int64_t x = 0; x < 128; ++x) {
      rgb.at(y, x, 0) = uint8_t(2 * x);  // R - G varies across the picture
      rgb.at(y, x, 1) = uint8_t(2 * y);
      rgb.at(y, x, 2) = 60;
    }
  const double difference = data::colour_difference(rgb);
  CHECK(difference > data::kMaxColourDifference);
  CHECK(mentions(data::input_warnings(rgb), "the image is in colour"));
  // A small coloured mark (a caliper cross, 1 % of the frame) on a grey frame passes.
  data::Image marked(100, 100, 3);
  std::fill(marked.pixels.begin(), marked.pixels.end(), uint8_t(100));
  for (int64_t i = 0; i < 100; ++i) marked.at(50, i, 1) = 255;  // a green line: |R-G|+|G-B| 310
  CHECK(data::colour_difference(marked) == doctest::Approx(3.1));
  CHECK(data::input_warnings(marked).empty());
}

TEST_CASE("input warnings: none of BUSI's images warns (the thresholds' margin, measured)") {
  const std::string busi = std::string(BUSI_SHARED_DIR) + "/busi";
  if (!fs::is_directory(busi)) {
    MESSAGE("skipped: no BUSI images at " << busi);
    return;
  }
  int images = 0;
  double max_colour = 0.0, max_ratio = 0.0;
  int64_t min_side = 1 << 30;
  for (const auto& entry : fs::recursive_directory_iterator(busi)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().extension() != ".png" ||
        name.find("_mask") != std::string::npos)
      continue;
    const data::Image image = data::decode_image_file(entry.path().string(), 3);
    ++images;
    max_colour = std::max(max_colour, data::colour_difference(image));
    const int64_t shorter = std::min(image.height, image.width);
    min_side = std::min(min_side, shorter);
    max_ratio = std::max(max_ratio, double(std::max(image.height, image.width)) / double(shorter));
    CHECK_MESSAGE(data::input_warnings(image).empty(), entry.path().string());
  }
  MESSAGE(images << " BUSI images: largest mean |R-G|+|G-B| " << max_colour << " (warning above "
                 << data::kMaxColourDifference << "), smallest side " << min_side
                 << " px, most elongated " << max_ratio << ":1");
  CHECK(images >= 600);
}
