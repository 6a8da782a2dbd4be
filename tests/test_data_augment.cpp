// Augmentation (data/augment.h): deterministic from the seed, each switch doing what it says,
// values kept in range; normalisation presets (data/normalize.h) on known pixels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/normalize.h"
#include "kernels/common/error.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;

namespace {

// A 40x48 RGB image where every pixel differs.
Image make_test_image() {
  Image image(40, 48, 3);
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 48; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.at(y, x, c) = static_cast<uint8_t>(3 * y + 5 * x + 40 * c);
  return image;
}

Image augment_with_seed(const Image& image, const AugmentOptions& options, uint64_t seed) {
  busi::Generator gen(seed);
  return augment_image(image, 32, 32, options, gen);
}

}  // namespace

TEST_CASE("augment: same seed same image, other seed other image") {
  const Image image = make_test_image();
  const AugmentOptions all;  // every augmentation on
  const Image a = augment_with_seed(image, all, 5);
  CHECK(a.height == 32);
  CHECK(a.width == 32);
  CHECK(a.channels == 3);
  CHECK(augment_with_seed(image, all, 5).pixels == a.pixels);
  CHECK(augment_with_seed(image, all, 6).pixels != a.pixels);
}

TEST_CASE("augment: all switched off and same size is the identity") {
  const Image image = make_test_image();
  busi::Generator gen(1);
  const Image out = augment_image(image, 40, 48, AugmentOptions::none(), gen);
  CHECK(out.pixels == image.pixels);
  CHECK(gen.offset() == 0);  // nothing drawn
}

TEST_CASE("augment: horizontal flip alone mirrors the image exactly") {
  const Image image = make_test_image();
  AugmentOptions flip = AugmentOptions::none();
  flip.horizontal_flip = true;
  flip.flip_probability = 1.0;
  busi::Generator gen(1);
  const Image out = augment_image(image, 40, 48, flip, gen);
  bool mirrored = true;
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 48; ++x)
      for (int64_t c = 0; c < 3; ++c) mirrored &= out.at(y, x, c) == image.at(y, 47 - x, c);
  CHECK(mirrored);
}

TEST_CASE("augment: random resized crop shows a part of the image, at the output size") {
  // Horizontal ramp, value 2 x: a row of the output spans 2 x (the crop's width) in value.
  Image ramp(64, 64, 1);
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 0; x < 64; ++x) ramp.at(y, x, 0) = static_cast<uint8_t>(2 * x);
  auto row_span = [](const Image& image) {
    const auto [low, high] =
        std::minmax_element(image.pixels.begin(), image.pixels.begin() + image.width);
    return *high - *low;
  };
  // Scale fixed at 1 and ratio 1: the whole image, unchanged.
  AugmentOptions crop = AugmentOptions::none();
  crop.random_resized_crop = true;
  crop.crop_scale_min = crop.crop_scale_max = 1.0;
  crop.crop_ratio_min = crop.crop_ratio_max = 1.0;
  busi::Generator gen(3);
  CHECK(augment_image(ramp, 64, 64, crop, gen).pixels == ramp.pixels);

  // A quarter of the area, square: 32 of the 64 columns (2 x spans about 63 instead of 126),
  // stretched to 64 output pixels, at a place that changes with the seed.
  crop.crop_scale_min = crop.crop_scale_max = 0.25;
  std::set<int> left_values;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    busi::Generator crop_gen(seed);
    const Image out = augment_image(ramp, 64, 64, crop, crop_gen);
    CHECK(out.width == 64);
    CHECK(row_span(out) >= 61);
    CHECK(row_span(out) <= 64);
    left_values.insert(out.pixels[0]);
  }
  CHECK(left_values.size() > 10);
}

TEST_CASE("augment: rotation brings black corners in; zero degrees changes nothing") {
  Image white(32, 32, 1);
  std::fill(white.pixels.begin(), white.pixels.end(), 255);
  AugmentOptions rotate = AugmentOptions::none();
  rotate.rotation = true;
  rotate.rotation_degrees = 15;
  // The corner pixel (15.5 px from the centre along each axis) leaves the image for any angle
  // above about 2 degrees, so for most draws in [-15, 15]; the centre never does.
  int black_corners = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    busi::Generator gen(seed);
    const Image out = augment_image(white, 32, 32, rotate, gen);
    black_corners += out.at(0, 0, 0) < 128;
    CHECK(out.at(16, 16, 0) == 255);
  }
  CHECK(black_corners >= 15);
  rotate.rotation_degrees = 0;
  busi::Generator gen0(2);
  CHECK(augment_image(white, 32, 32, rotate, gen0).pixels == white.pixels);
}

TEST_CASE("augment: brightness/contrast factors stay within their range, values clamped") {
  AugmentOptions jitter = AugmentOptions::none();
  jitter.brightness_contrast = true;
  jitter.brightness = 0.2;
  jitter.contrast = 0.5;
  // Flat 100: contrast changes nothing (every value is the mean), brightness gives 100 b with
  // b in [0.8, 1.2].
  Image flat(8, 8, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 100);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    busi::Generator gen(seed);
    const Image out = augment_image(flat, 8, 8, jitter, gen);
    CHECK(out.pixels[0] >= 80);
    CHECK(out.pixels[0] <= 120);
    CHECK(std::all_of(out.pixels.begin(), out.pixels.end(),
                      [&](uint8_t v) { return v == out.pixels[0]; }));
  }
  // Values near 0 and 255 saturate at 0 and 255 instead of wrapping around: with the contrast
  // fixed at 1 and brightness b in [0.5, 1.5], 253 -> min(255, 253 b) is at least 127.
  jitter.contrast = 0.0;
  jitter.brightness = 0.5;
  Image extremes(1, 2, 1);
  extremes.pixels = {2, 253};
  bool saturated = false;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    busi::Generator gen(seed);
    const Image out = augment_image(extremes, 1, 2, jitter, gen);
    CHECK(out.pixels[0] <= 3);
    CHECK(out.pixels[1] >= 127);
    saturated |= out.pixels[1] == 255;
  }
  CHECK(saturated);
}

TEST_CASE("augment, trivial policy: one operation per image, each drawn about equally often") {
  const Image image = make_test_image();
  AugmentOptions trivial;
  trivial.policy = AugmentOptions::Policy::Trivial;
  std::vector<int> counts(kTrivialOps, 0);
  for (uint64_t seed = 0; seed < 2200; ++seed) {
    busi::Generator gen(seed);
    TrivialDraw draw;
    const Image out = augment_image(image, 32, 32, trivial, gen, &draw);
    ++counts[static_cast<size_t>(draw.op)];
    CHECK(draw.strength >= 0.0);
    CHECK(draw.strength < 1.0);
    CHECK(std::abs(draw.sign) == 1.0);
    CHECK(out.height == 32);
    CHECK(out.channels == 3);
  }
  for (int k = 0; k < kTrivialOps; ++k) {
    CAPTURE(trivial_op_name(static_cast<TrivialOp>(k)));
    CHECK(counts[static_cast<size_t>(k)] > 140);  // 200 expected of 2200; sd about 14
    CHECK(counts[static_cast<size_t>(k)] < 260);
  }
  // The same seed gives the same image; the fixed policy's draws are unchanged by the option.
  busi::Generator g1(7), g2(7);
  CHECK(augment_image(image, 32, 32, trivial, g1).pixels ==
        augment_image(image, 32, 32, trivial, g2).pixels);
}

TEST_CASE("augment, trivial policy: each operation does what its name says") {
  // A grey ramp, no crop or flip, so that only the drawn operation acts.
  Image ramp(32, 32, 1);
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 32; ++x) ramp.at(y, x, 0) = static_cast<uint8_t>(40 + 5 * x);
  AugmentOptions trivial = AugmentOptions::none();
  trivial.policy = AugmentOptions::Policy::Trivial;
  const auto mean = [](const Image& im) {
    double sum = 0;
    for (uint8_t v : im.pixels) sum += v;
    return sum / static_cast<double>(im.pixels.size());
  };
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 400 && seen.size() < kTrivialOps; ++seed) {
    busi::Generator gen(seed);
    TrivialDraw d;
    const Image out = augment_image(ramp, 32, 32, trivial, gen, &d);
    if (d.strength < 0.5) continue;  // a clear effect
    seen.insert(static_cast<int>(d.op));
    CAPTURE(trivial_op_name(d.op));
    CAPTURE(d.sign);
    switch (d.op) {
      case TrivialOp::Identity:
        CHECK(out.pixels == ramp.pixels);
        break;
      case TrivialOp::Brightness:
      case TrivialOp::Gamma:
        // Brighter with a positive sign (gamma: an exponent above 1 darkens, so the reverse).
        CHECK((mean(out) > mean(ramp)) == ((d.op == TrivialOp::Brightness) == (d.sign > 0)));
        break;
      case TrivialOp::Contrast:
        CHECK(std::abs(mean(out) - mean(ramp)) < 3.0);
        break;
      case TrivialOp::TranslateX:
      case TrivialOp::Rotate:
      case TrivialOp::ShearY:
        CHECK(out.pixels != ramp.pixels);  // moved: black enters at a border
        CHECK(*std::min_element(out.pixels.begin(), out.pixels.end()) == 0);
        break;
      case TrivialOp::TranslateY:
      case TrivialOp::ShearX:
        // Moves along y (or shears x by y): a horizontal ramp keeps its columns except where
        // black comes in.
        CHECK(*std::min_element(out.pixels.begin(), out.pixels.end()) == 0);
        break;
      case TrivialOp::Blur:
        // A linear ramp is unchanged by a symmetric blur except at the ends.
        CHECK(std::abs(static_cast<int>(out.at(16, 16, 0)) - ramp.at(16, 16, 0)) <= 1);
        CHECK(out.at(16, 0, 0) > ramp.at(16, 0, 0));
        break;
      case TrivialOp::Speckle:
        CHECK(out.pixels != ramp.pixels);
        CHECK(std::abs(mean(out) - mean(ramp)) < 6.0);
        break;
    }
  }
  CHECK(seen.size() == kTrivialOps);
}

TEST_CASE("augment options: out-of-range values are errors naming the option") {
  const Image image = make_test_image();
  auto error_for = [&](const std::function<void(AugmentOptions&)>& change) {
    AugmentOptions options;  // the defaults are valid
    change(options);
    busi::Generator gen(1);
    try {
      augment_image(image, 16, 16, options, gen);
    } catch (const busi::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_for([](AugmentOptions&) {}).empty());
  CHECK(error_for([](AugmentOptions& o) { o.crop_scale_min = o.crop_scale_max = 1; }).empty());
  CHECK(error_for([](AugmentOptions& o) { o.rotation_degrees = 0; }).empty());
  CHECK(error_for([](AugmentOptions& o) { o.brightness = o.contrast = 0; }).empty());

  const std::string scale = "crop scale range";
  CHECK(error_for([](AugmentOptions& o) { o.crop_scale_min = 0; }).find(scale) !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.crop_scale_min = -0.5; }).find(scale) !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) {
          o.crop_scale_min = 0.9, o.crop_scale_max = 0.8;
        }).find(scale) != std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.crop_scale_max = 1.5; }).find(scale) !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.crop_scale_min = std::nan(""); }).find(scale) !=
        std::string::npos);
  const std::string ratio = "crop aspect-ratio range";
  CHECK(error_for([](AugmentOptions& o) { o.crop_ratio_min = 0; }).find(ratio) !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) {
          o.crop_ratio_min = 2, o.crop_ratio_max = 1;
        }).find(ratio) != std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.flip_probability = 1.5; }).find("flip probability") !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.rotation_degrees = -10; }).find("rotation") !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.brightness = 1; }).find("brightness jitter") !=
        std::string::npos);
  CHECK(error_for([](AugmentOptions& o) { o.contrast = -0.1; }).find("contrast jitter") !=
        std::string::npos);
  // Checked even when the augmentation is switched off: a wrong value is a mistake either way.
  CHECK(error_for([](AugmentOptions& o) {
          o.rotation = false;
          o.rotation_degrees = -1;
        }).find("rotation") != std::string::npos);
}

TEST_CASE("eval transform: resize, or centre crop then resize") {
  Image image(8, 8, 1);
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x) image.at(y, x, 0) = static_cast<uint8_t>(10 * y + x);
  CHECK(eval_image(image, 8, 8).pixels == image.pixels);
  // The centre 4x4 (fraction 0.5) kept at its own size.
  const Image centre = eval_image(image, 4, 4, 0.5);
  CHECK(centre.at(0, 0, 0) == 22);
  CHECK(centre.at(3, 3, 0) == 55);
  CHECK_THROWS_AS(eval_image(image, 4, 4, 0.0), busi::Error);
}

TEST_CASE("normalization presets: exact values on a known pixel") {
  Image pixel(1, 1, 3);
  pixel.pixels = {10, 20, 30};  // R, G, B
  float out[3];

  // imagenet-caffe: BGR order, minus the means, no scaling.
  Normalization::from_name("imagenet-caffe").apply(pixel, out);
  CHECK(out[0] == doctest::Approx(30 - 103.939).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(20 - 116.779).epsilon(1e-6));
  CHECK(out[2] == doctest::Approx(10 - 123.68).epsilon(1e-6));

  // imagenet-torch: RGB, / 255, minus mean, over std.
  Normalization::from_name("imagenet-torch").apply(pixel, out);
  CHECK(out[0] == doctest::Approx((10 / 255.0 - 0.485) / 0.229).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx((20 / 255.0 - 0.456) / 0.224).epsilon(1e-6));
  CHECK(out[2] == doctest::Approx((30 / 255.0 - 0.406) / 0.225).epsilon(1e-6));

  // (C, H, W) layout: planes one after the other.
  Image two(1, 2, 3);
  two.pixels = {1, 2, 3, 4, 5, 6};
  float planes[6];
  Normalization::imagenet_caffe().apply(two, planes);
  CHECK(planes[0] == doctest::Approx(3 - 103.939));  // B of pixel 0
  CHECK(planes[1] == doctest::Approx(6 - 103.939));  // B of pixel 1
  CHECK(planes[5] == doctest::Approx(4 - 123.68));   // R of pixel 1

  CHECK_THROWS_AS(Normalization::from_name("dataset"), busi::Error);
  CHECK_THROWS_AS(Normalization::from_name("imagenet"), busi::Error);
  Image grey(1, 1, 1);
  CHECK_THROWS_AS(Normalization::imagenet_torch().apply(grey, out), busi::Error);
}

TEST_CASE("normalization 'dataset': mean and std measured on the given images only") {
  TempDir dir("normalize_dataset");
  // Two 4x4 grey images, values 0 and 100 (id 0, 1), and one of 255 that is not measured.
  write_flat_png(dir.path() / "a" / "0.png", 4, 0, 1);
  write_flat_png(dir.path() / "a" / "1.png", 4, 100, 1);
  write_flat_png(dir.path() / "b" / "2.png", 4, 255, 1);
  const DatasetIndex index = scan_folder(dir.str());
  const ImageCache cache(index, {4, 4, 1, 1});
  const Normalization norm = Normalization::dataset(cache, {0, 1});
  // Half the pixels 0, half 100 (in units of 1/255): mean 50/255, std 50/255.
  CHECK(norm.name == "dataset");
  REQUIRE(norm.channels() == 1);
  CHECK(norm.mean[0] == doctest::Approx(50.0 / 255.0));
  CHECK(norm.std[0] == doctest::Approx(50.0 / 255.0));
  std::vector<float> out(16);
  norm.apply(cache.image(1), out.data());
  CHECK(out[0] == doctest::Approx(1.0));  // (100/255 - 50/255) / (50/255)
  CHECK(out[15] == doctest::Approx(1.0));
  // A single flat image has no spread to divide by.
  CHECK_THROWS_AS(Normalization::dataset(cache, {2}), busi::Error);
}
