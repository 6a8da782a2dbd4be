// The VGG16 forward pass against an independent reference: the activations after block3_conv1 +
// ReLU for two BUSI images, computed in float64 NumPy by
// tests/fixtures/make_vgg16_block3_reference.py (its own PNG decoder, convolutions and safetensors
// reader) and stored in tests/fixtures/vgg16_block3_reference.txt. Also: the shared partial weight
// file loads into a real models::VGG16 as documented (5 of 13 conv layers, known first values).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/normalize.h"
#include "engine/autograd.h"
#include "models/vgg16.h"
#include "weights/state_dict_io.h"
#include "weights/vgg16_names.h"

using namespace busi;

namespace {

const std::string kFixture =
    std::string(BUSI_SOURCE_DIR) + "/tests/fixtures/vgg16_block3_reference.txt";
const std::string kBusiDir = std::string(BUSI_SHARED_DIR) + "/busi";
const std::string kPartialWeights =
    std::string(BUSI_SHARED_DIR) + "/weights/vgg16_torchvision_partial.safetensors";

// The tolerance the issue asks for: |engine - reference| <= 1e-4 x |reference|. A value that
// ReLU clamps to (nearly) zero has no meaningful relative error, so the denominator is at least
// the mean |value| of the layer's stored values (about 1 here): 1e-4 of the typical activation.
constexpr double kRelativeTolerance = 1e-4;

// What the fixture holds for one image.
struct ReferenceImage {
  std::string file;            // relative to the BUSI folder: "benign/benign (2).png"
  std::vector<int64_t> shape;  // (C, H, W) after block3_conv1: 256 16 16
  std::vector<double> channel_means;
  std::vector<double> values;  // every `stride`-th value of the flattened (C, H, W) activations
};

struct Reference {
  int64_t crop_top = 0, crop_left = 0, crop_size = 0;
  int64_t stride = 0;
  std::vector<ReferenceImage> images;
};

// The numbers after `prefix` on a line that starts with it.
template <typename T>
std::vector<T> numbers_after(const std::string& line, const std::string& prefix) {
  std::istringstream in(line.substr(prefix.size()));
  std::vector<T> out;
  T v;
  while (in >> v) out.push_back(v);
  return out;
}

// The fixture format (written by the script's main()):
//   # crop top left size: 96 96 64; stride of stored values: 37
//   image <path>            then the lines "shape ...", "channel_means ...", "values ..."
Reference read_reference(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.is_open(), "cannot open the fixture " << path);
  Reference ref;
  const std::string crop_key = "# crop top left size:";
  const std::string stride_key = "; stride of stored values:";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(crop_key, 0) == 0) {
      const size_t semicolon = line.find(stride_key);
      REQUIRE(semicolon != std::string::npos);
      const auto crop = numbers_after<int64_t>(line.substr(0, semicolon), crop_key);
      REQUIRE(crop.size() == 3);
      ref.crop_top = crop[0];
      ref.crop_left = crop[1];
      ref.crop_size = crop[2];
      const auto stride = numbers_after<int64_t>(line.substr(semicolon), stride_key);
      REQUIRE(stride.size() == 1);
      ref.stride = stride[0];
    } else if (line.rfind("image ", 0) == 0) {
      ref.images.push_back({line.substr(6), {}, {}, {}});
    } else if (line.rfind("shape ", 0) == 0) {
      REQUIRE(!ref.images.empty());
      ref.images.back().shape = numbers_after<int64_t>(line, "shape ");
    } else if (line.rfind("channel_means ", 0) == 0) {
      REQUIRE(!ref.images.empty());
      ref.images.back().channel_means = numbers_after<double>(line, "channel_means ");
    } else if (line.rfind("values ", 0) == 0) {
      REQUIRE(!ref.images.empty());
      ref.images.back().values = numbers_after<double>(line, "values ");
    }
  }
  return ref;
}

// The network input exactly as the script makes it: the image decoded to RGB (stb_image, as the
// tools do; grey files are repeated into R = G = B and alpha is dropped, like the script), the
// crop [top, top + size) x [left, left + size), then imagenet-torch: (x / 255 - mean) / std per
// channel, laid out (1, 3, size, size).
Tensor reference_input(const std::string& file, const Reference& ref) {
  const data::Image image = data::decode_image_file(file, 3);
  const data::Image crop =
      data::crop_image(image, ref.crop_top, ref.crop_left, ref.crop_size, ref.crop_size);
  Tensor x = Tensor::empty({1, 3, ref.crop_size, ref.crop_size});
  data::Normalization::imagenet_torch().apply(crop, x.data());
  return x;
}

double mean_abs(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += std::abs(v);
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

// The largest relative error of `got` against `expected` (the denominator as documented at
// kRelativeTolerance); `worst` receives its index.
double max_relative_error(const std::vector<double>& got, const std::vector<double>& expected,
                          size_t& worst) {
  const double floor = mean_abs(expected);
  double max_error = 0;
  worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double error = std::abs(got[i] - expected[i]) / std::max(std::abs(expected[i]), floor);
    if (error > max_error) {
      max_error = error;
      worst = i;
    }
  }
  return max_error;
}

bool shared_data_present() {
  for (const std::string& path : {kBusiDir, kPartialWeights}) {
    if (!std::filesystem::exists(path)) {
      MESSAGE("skipped: " << path << " not found (the VGG16 reference check needs ../shared)");
      return false;
    }
  }
  return true;
}

// The shared partial ImageNet weights loaded into `net` as finetune_vgg loads them.
weights::LoadReport load_partial(models::VGG16& net) {
  return weights::load_state_dict(kPartialWeights, net.state_dict(),
                                  weights::vgg16_imagenet_load_options());
}

// The same load, but allowing only the 8 conv layers the file lacks (and the head) to be
// missing: it fails unless the file's five layers really land in the model.
weights::LoadReport load_partial_strictly(models::VGG16& net) {
  weights::LoadOptions options = weights::vgg16_imagenet_load_options();
  options.allow_missing = {"block3_conv2.", "block3_conv3.", "block4_", "block5_", "head_"};
  return weights::load_state_dict(kPartialWeights, net.state_dict(), options);
}

}  // namespace

TEST_CASE("the shared partial file loads 5 of 13 conv layers into models::VGG16") {
  if (!shared_data_present()) return;
  models::VGG16 net;
  const weights::LoadReport report = load_partial(net);
  CHECK(weights::vgg16_conv_layers_loaded(report) ==
        std::vector<std::string>{"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
                                 "block3_conv1"});
  CHECK(weights::vgg16_imagenet_summary(report).rfind("ImageNet weights: 5 of 13 conv layers (",
                                                      0) == 0);
  CHECK(report.loaded.size() == 10);
  CHECK(report.missing.size() == 18);  // the other 8 conv layers (weight and bias), the head
  // torchvision's features.0.weight, renamed on the way in.
  const std::vector<float> w = net.conv("block1_conv1")->weight.to_vector();
  CHECK(w[0] == doctest::Approx(-0.5537306).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(0.1427047).epsilon(1e-6));
  CHECK(w[2] == doctest::Approx(0.5289615).epsilon(1e-6));
  // A layer not in the file keeps its He initialisation (neither zero nor a loaded value).
  const std::vector<float> kept = net.conv("block3_conv2")->weight.to_vector();
  CHECK(std::any_of(kept.begin(), kept.end(), [](float v) { return v != 0; }));

  // Allowing only the 8 absent layers (and the head) to be missing works too ...
  models::VGG16 strict;
  CHECK(weights::vgg16_conv_layers_loaded(load_partial_strictly(strict)).size() == 5);
  // ... and not allowing block3_conv2 to be missing names it.
  weights::LoadOptions too_strict = weights::vgg16_imagenet_load_options();
  too_strict.allow_missing = {"block3_conv3.", "block4_", "block5_", "head_"};
  CHECK_THROWS_WITH_AS(
      weights::load_state_dict(kPartialWeights, strict.state_dict(), too_strict),
      doctest::Contains("missing tensors 'block3_conv2.weight', 'block3_conv2.bias'"), Error);
}

TEST_CASE("VGG16 activations after block3_conv1 + ReLU match the NumPy float64 reference") {
  const Reference ref = read_reference(kFixture);
  REQUIRE(ref.images.size() == 2);
  REQUIRE(ref.crop_size == 64);
  REQUIRE(ref.stride > 0);
  if (!shared_data_present()) return;

  models::VGG16 net;
  REQUIRE(load_partial_strictly(net).loaded.size() == 10);
  NoGradGuard no_grad;  // inference only
  for (const ReferenceImage& image : ref.images) {
    INFO("image " << image.file);
    const Tensor x = reference_input(kBusiDir + "/" + image.file, ref);
    const Tensor y = net.forward_until(x, "block3_conv1");  // (1, 256, 16, 16)
    REQUIRE(image.shape.size() == 3);
    REQUIRE(y.shape() == Shape{1, image.shape[0], image.shape[1], image.shape[2]});
    const std::vector<float> flat = y.to_vector();

    // Every stored value: flat[0], flat[stride], flat[2 stride], ...
    const size_t expected_count =
        (flat.size() + static_cast<size_t>(ref.stride) - 1) / static_cast<size_t>(ref.stride);
    REQUIRE(image.values.size() == expected_count);
    std::vector<double> got;
    for (size_t i = 0; i < image.values.size(); ++i)
      got.push_back(flat[i * static_cast<size_t>(ref.stride)]);
    size_t worst = 0;
    const double value_error = max_relative_error(got, image.values, worst);
    INFO("worst stored value: flat index " << worst * static_cast<size_t>(ref.stride) << ", engine "
                                           << got[worst] << ", reference " << image.values[worst]);
    CHECK(value_error <= kRelativeTolerance);

    // The mean of each channel covers every activation, not just the stored ones.
    const int64_t channels = image.shape[0];
    const size_t plane = static_cast<size_t>(image.shape[1] * image.shape[2]);
    REQUIRE(image.channel_means.size() == static_cast<size_t>(channels));
    std::vector<double> means(static_cast<size_t>(channels), 0.0);
    for (size_t i = 0; i < flat.size(); ++i) means[i / plane] += flat[i];
    for (double& m : means) m /= static_cast<double>(plane);
    const double mean_error = max_relative_error(means, image.channel_means, worst);
    INFO("worst channel mean: channel " << worst << ", engine " << means[worst] << ", reference "
                                        << image.channel_means[worst]);
    CHECK(mean_error <= kRelativeTolerance);
    MESSAGE(image.file << ": largest relative error " << value_error << " (stored values), "
                       << mean_error << " (channel means)");
  }
}
