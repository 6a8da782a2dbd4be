// Tests of the VGG16 name mapping and the converters: the Keras HDF5 reader on small files
// written here with the HDF5 C API (checking the H x W x I x O -> O x I x H x W transposition on
// known values), the torchvision converter, the Python export helper's writer, the
// convert_weights tool, and weights/manifest.json against the files it describes.
#include <doctest/doctest.h>

#ifdef BUSI_WITH_HDF5
#include <hdf5.h>
#endif
#include <sys/wait.h>

#include <filesystem>

#include "tests/h5_writer.h"
#include "tests/test_safetensors_helpers.h"
#include "weights/convert_vgg16.h"
#include "weights/json.h"
#include "weights/keras_h5.h"
#include "weights/layout.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"
#include "weights/state_dict_io.h"
#include "weights/vgg16_names.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::TempDir;

namespace {

const std::string kSharedPartial =
    std::string(BUSI_SHARED_DIR) + "/weights/vgg16_torchvision_partial.safetensors";

using busi::testing::hwio_values;
using busi::testing::kernel_value;
#ifdef BUSI_WITH_HDF5
using busi::testing::H5Writer;
#endif

// Checks out[o][i][h][w] == kernel_value(h, w, i, o) for every element.
void check_transposed(const Tensor& oihw, int64_t H, int64_t W, int64_t I, int64_t O) {
  REQUIRE(oihw.shape() == Shape{O, I, H, W});
  const std::vector<float> v = oihw.to_vector();
  int64_t wrong = 0;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          if (v[static_cast<size_t>(((o * I + i) * H + h) * W + w)] != kernel_value(h, w, i, o))
            ++wrong;
  CHECK(wrong == 0);
}

const Tensor& tensor_named(const StateDict& sd, const std::string& name) {
  for (const NamedTensor& t : sd)
    if (t.name == name) return t.tensor;
  FAIL("no tensor " << name);
  static Tensor none;
  return none;
}

}  // namespace

TEST_CASE("VGG16 names: torchvision features.N <-> Keras-style blockB_convC") {
  REQUIRE(vgg16_conv_layers().size() == 13);
  const auto& map = vgg16_torchvision_to_engine();
  CHECK(map.size() == 26);
  CHECK(map.at("features.0.weight") == "block1_conv1.weight");
  CHECK(map.at("features.10.bias") == "block3_conv1.bias");
  CHECK(map.at("features.17.weight") == "block4_conv1.weight");
  CHECK(map.at("features.28.bias") == "block5_conv3.bias");
  CHECK(map.count("features.1.weight") == 0);  // a ReLU in torchvision
  CHECK(*vgg16_conv_tensor_shape("block2_conv1.weight") == Shape{128, 64, 3, 3});
  CHECK_FALSE(vgg16_conv_tensor_shape("head_fc.weight").has_value());
  int64_t parameters = 0;
  for (const VGG16ConvLayer& l : vgg16_conv_layers())
    parameters += shape_numel(l.weight_shape()) + shape_numel(l.bias_shape());
  CHECK(parameters == 14714688);  // VGG16's conv base
  const LoadOptions options = vgg16_imagenet_load_options();
  CHECK(options.allow_missing.count("block5_conv3.") == 1);
  CHECK(options.allow_missing.count("head_") == 1);
  CHECK_FALSE(options.allow_unexpected);

  LoadReport full;
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    full.loaded.push_back(l.name + ".weight");
    full.loaded.push_back(l.name + ".bias");
  }
  CHECK(vgg16_imagenet_summary(full).rfind("ImageNet weights: 13 of 13 conv layers (", 0) == 0);
  CHECK(vgg16_imagenet_summary(full).find("He-initialised") == std::string::npos);
  LoadReport half;
  half.loaded = {"block1_conv1.weight", "block1_conv1.bias", "block1_conv2.weight"};
  CHECK(vgg16_conv_layers_loaded(half) == std::vector<std::string>{"block1_conv1"});
  CHECK(vgg16_imagenet_summary(half).find(
            "WARNING: only the weight or only the bias in the file: block1_conv2") !=
        std::string::npos);
  CHECK(vgg16_imagenet_summary(LoadReport{}) ==
        "ImageNet weights: 0 of 13 conv layers; "
        "He-initialised: block1_conv1, block1_conv2, "
        "block2_conv1, block2_conv2, block3_conv1, "
        "block3_conv2, block3_conv3, block4_conv1, "
        "block4_conv2, block4_conv3, block5_conv1, "
        "block5_conv2, block5_conv3");
}

TEST_CASE("hwio_to_oihw moves every element where it belongs") {
  check_transposed(hwio_to_oihw(hwio_values(3, 2, 4, 5), {3, 2, 4, 5}), 3, 2, 4, 5);
  // One hand-checked element: kernel[h=1][w=0][i=1][o=3] = 3110 lands at out[3][1][1][0].
  const Tensor t = hwio_to_oihw(hwio_values(3, 3, 2, 4), {3, 3, 2, 4});
  CHECK(t.to_vector()[static_cast<size_t>(((3 * 2 + 1) * 3 + 1) * 3 + 0)] == 3110.0f);
  CHECK_THROWS_WITH_AS(hwio_to_oihw({1, 2, 3}, {2, 2}), doctest::Contains("4-d"), Error);
  CHECK_THROWS_WITH_AS(hwio_to_oihw({1, 2, 3}, {1, 1, 2, 2}),
                       doctest::Contains("3 values do not fill shape (1, 1, 2, 2)"), Error);
}

#ifdef BUSI_WITH_HDF5

TEST_CASE("Keras HDF5 reader: both dataset namings, transposition, missing layers") {
  TempDir dir("convert-h5");
  const std::string path = dir.file("small.h5");
  {
    H5Writer h5(path);
    h5.conv_layer("conv_a", 3, 3, 2, 4);                   // Keras 2 names
    h5.conv_layer("conv_b", 1, 2, 3, 2, /*keras1=*/true);  // Keras 1 names
  }
  const KerasConvLayers read = read_keras_conv_layers(path, {"conv_a", "absent", "conv_b"});
  CHECK(read.present == std::vector<std::string>{"conv_a", "conv_b"});
  CHECK(read.missing == std::vector<std::string>{"absent"});
  REQUIRE(read.tensors.size() == 4);
  CHECK(read.tensors[0].name == "conv_a.weight");
  check_transposed(read.tensors[0].tensor, 3, 3, 2, 4);
  CHECK(read.tensors[1].tensor.to_vector() == std::vector<float>{0, -1, -2, -3});
  check_transposed(tensor_named(read.tensors, "conv_b.weight"), 1, 2, 3, 2);
}

TEST_CASE("Keras HDF5 reader errors name the file and the dataset") {
  TempDir dir("convert-h5-errors");
  const std::string path = dir.file("bad.h5");
  {
    H5Writer h5(path);
    h5.floats("no_bias/no_bias/kernel:0", {1, 1, 1, 2}, {1, 2});
    h5.floats("rank3/rank3/kernel:0", {3, 3, 2}, std::vector<float>(18, 0.0f));
    h5.floats("rank3/rank3/bias:0", {2}, {0, 0});
    h5.ints("ints/ints/kernel:0", {1, 1, 1, 1}, {7});
    h5.floats("ints/ints/bias:0", {1}, {0});
    h5.floats("bias_size/bias_size/kernel:0", {1, 1, 1, 3}, {1, 2, 3});
    h5.floats("bias_size/bias_size/bias:0", {1}, {0});
  }
  auto fails_with = [&](const std::string& layer, const std::string& text) {
    CHECK_THROWS_WITH_AS(read_keras_conv_layers(path, {layer}), doctest::Contains(text.c_str()),
                         Error);
  };
  fails_with("no_bias", "layer group 'no_bias' has no bias dataset");
  fails_with("rank3", "dataset 'rank3/rank3/kernel:0' has 3 dimensions, expected 4");
  fails_with("ints", "dataset 'ints/ints/kernel:0' does not hold floating-point numbers");
  fails_with("bias_size", "layer 'bias_size': bias has 1 values but the kernel (1, 1, 1, 3)");
  CHECK_THROWS_WITH_AS(read_keras_conv_layers(dir.file("none.h5"), {"x"}),
                       doctest::Contains("none.h5': no such file"), Error);
  const std::string text_file = dir.file("text.h5");
  busi::testing::write_bytes(text_file, "not hdf5 at all");
  CHECK_THROWS_WITH_AS(read_keras_conv_layers(text_file, {"x"}),
                       doctest::Contains("not an HDF5 file"), Error);
}

TEST_CASE("Keras VGG16 converter: partial file, shapes checked, imagenet-caffe") {
  TempDir dir("convert-keras");
  const std::string path = dir.file("vgg16_notop_partial.h5");
  {
    H5Writer h5(path);
    h5.conv_layer("block1_conv1", 3, 3, 3, 64);           // VGG16's real first-layer shape
    h5.floats("fc1/fc1/kernel:0", {2, 2}, {1, 2, 3, 4});  // not a conv layer: not read
  }
  const ConvertedWeights converted = convert_keras_vgg16(path);
  CHECK(converted.layers_present == std::vector<std::string>{"block1_conv1"});
  CHECK(converted.layers_missing.size() == 12);
  CHECK(converted.metadata.at(kPreprocessingKey) == kImagenetCaffe);
  CHECK(converted.metadata.at(kFormatKey) == kWeightsFormat);
  CHECK(converted.metadata.at(kLayersKey) == "block1_conv1");
  CHECK(converted.metadata.at(kSourceSha256Key) == sha256_file(path));
  check_transposed(tensor_named(converted.tensors, "block1_conv1.weight"), 3, 3, 3, 64);

  // Written, then loaded into a VGG16-shaped state dict (13 conv layers and the head) as the
  // model code will.
  const std::string out = dir.file("vgg16_imagenet.safetensors");
  write_converted(out, converted);
  StateDict vgg;
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    vgg.push_back({l.name + ".weight", Tensor::zeros(l.weight_shape())});
    vgg.push_back({l.name + ".bias", Tensor::zeros(l.bias_shape())});
  }
  vgg.push_back({"head_fc.weight", Tensor::zeros({3, 512})});
  vgg.push_back({"head_fc.bias", Tensor::zeros({3})});
  const LoadReport report = load_state_dict(out, vgg, vgg16_imagenet_load_options());
  CHECK(vgg16_imagenet_summary(report).rfind("ImageNet weights: 1 of 13 conv layers", 0) == 0);
  CHECK(preprocessing_of(report.metadata) == kImagenetCaffe);
  check_transposed(vgg[0].tensor, 3, 3, 3, 64);

  // The made-up 3x3x2x4 kernel is not VGG16's block1_conv1 (3x3x3x64).
  const std::string wrong = dir.file("wrong.h5");
  {
    H5Writer h5(wrong);
    h5.conv_layer("block1_conv1", 3, 3, 2, 4);
  }
  CHECK_THROWS_WITH_AS(convert_keras_vgg16(wrong),
                       doctest::Contains("tensor 'block1_conv1.weight' has shape (4, 2, 3, 3) "
                                         "but VGG16's is (64, 3, 3, 3)"),
                       Error);
  // No VGG16 layer at all, and no file at all.
  const std::string empty = dir.file("empty.h5");
  {
    H5Writer h5(empty);
    h5.floats("other/other/kernel:0", {1}, {1});
  }
  CHECK_THROWS_WITH_AS(convert_keras_vgg16(empty), doctest::Contains("no VGG16 conv layer found"),
                       Error);
  CHECK_THROWS_WITH_AS(convert_keras_vgg16(dir.file("missing.h5")),
                       doctest::Contains("scripts/get_weights.sh keras"), Error);
}

#else

TEST_CASE("without HDF5 support, a Keras file is a clear error") {
  CHECK_THROWS_WITH_AS(read_keras_conv_layers("x.h5", {"block1_conv1"}),
                       doctest::Contains("no HDF5 support"), Error);
}

#endif  // BUSI_WITH_HDF5

TEST_CASE("torchvision VGG16 converter: renames, ignores the classifier, checks everything") {
  TempDir dir("convert-tv");
  const std::string path = dir.file("tv.safetensors");
  const Tensor w0 = hwio_to_oihw(hwio_values(3, 3, 3, 64), {3, 3, 3, 64});  // any values
  write_safetensors(path,
                    {{"features.0.weight", w0},
                     {"features.0.bias", Tensor::full({64}, 0.5f)},
                     {"classifier.6.bias", Tensor::zeros({1000})}},
                    {{"source", "made up"}});
  const ConvertedWeights converted = convert_torchvision_vgg16(path);
  CHECK(converted.layers_present == std::vector<std::string>{"block1_conv1"});
  CHECK(converted.ignored == std::vector<std::string>{"classifier.6.bias"});
  CHECK(converted.metadata.at(kPreprocessingKey) == kImagenetTorch);
  CHECK(converted.metadata.at(kSourceKey) == "made up");
  CHECK(converted.metadata.at("model") == "vgg16");
  REQUIRE(converted.tensors.size() == 2);
  CHECK(converted.tensors[0].name == "block1_conv1.weight");
  CHECK(converted.tensors[0].tensor.to_vector() == w0.to_vector());

  auto fails_with = [&](const StateDict& tensors, const std::string& text) {
    const std::string bad = dir.file("bad.safetensors");
    write_safetensors(bad, tensors);
    CHECK_THROWS_WITH_AS(convert_torchvision_vgg16(bad), doctest::Contains(text.c_str()), Error);
  };
  fails_with({{"features.1.weight", Tensor::zeros({64})}},
             "'features.1.weight' is not part of torchvision's VGG16");
  fails_with({{"features.0.weight", w0}}, "layer block1_conv1 has a weight but no bias");
  fails_with({{"features.0.weight", Tensor::zeros({64, 1, 3, 3})},
              {"features.0.bias", Tensor::zeros({64})}},
             "has shape (64, 1, 3, 3) but VGG16's block1_conv1.weight is (64, 3, 3, 3)");
  fails_with({{"features.0.weight", w0},
              {"features.0.bias", Tensor::zeros({64})},
              {"block1_conv1.bias", Tensor::zeros({64})}},
             "two tensors map to 'block1_conv1.bias'");
  fails_with({{"classifier.0.bias", Tensor::zeros({4096})}}, "no VGG16 conv layer found");
  CHECK_THROWS_WITH_AS(convert_torchvision_vgg16(dir.file("vgg16-397923af.safetensors")),
                       doctest::Contains("not found. Get the complete weights"), Error);
}

TEST_CASE("the shared partial file converts to 5 of 13 layers with identical values") {
  if (!std::filesystem::exists(kSharedPartial)) {
    MESSAGE("skipping: " << kSharedPartial << " not found");
    return;
  }
  const ConvertedWeights converted = convert_torchvision_vgg16(kSharedPartial);
  CHECK(converted.layers_present.size() == 5);
  CHECK(converted.layers_present.back() == "block3_conv1");
  CHECK(converted.layers_missing.size() == 8);
  CHECK(converted.metadata.at(kLayersMissingKey).rfind("block3_conv2,block3_conv3,", 0) == 0);
  CHECK(converted.metadata.at(kSourceSha256Key) ==
        "937895bb469b90b6bc442bbdaa4c94267ec94a1d2dfd26c17fa83f971ca34935");
  SafetensorsFile original(kSharedPartial);
  CHECK(tensor_named(converted.tensors, "block3_conv1.weight").to_vector() ==
        original.read_vector("features.10.weight"));
}

TEST_CASE("the Python export helper writes files the engine reads") {
  if (!busi::testing::python3_available()) {
    MESSAGE("python3 not found: skipping the export helper check");
    return;
  }
  TempDir dir("convert-py");
  const std::string out = dir.file("exported.safetensors");
  // -B: no __pycache__ in the source tree.
  const std::string command = "python3 -B '" + std::string(BUSI_SOURCE_DIR) +
                              "/tools/export_torchvision_vgg16.py' --write-test-file '" + out + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  SafetensorsFile file(out);
  REQUIRE(file.entries().size() == 2);
  CHECK(file.metadata().at(kFormatKey) == kWeightsFormat);
  CHECK(file.metadata().at(kPreprocessingKey) == kImagenetTorch);
  const std::vector<float> w = file.read_vector("block1_conv1.weight");
  // weight[o, i, h, w] = o + i/10 + h/100 + w/1000, rounded to float32 as Python's struct does.
  CHECK(w[0] == 0.0f);
  CHECK(w[((5 * 3 + 2) * 3 + 1) * 3 + 2] ==
        static_cast<float>(5 + 2 / 10.0 + 1 / 100.0 + 2 / 1000.0));
  CHECK(file.read_vector("block1_conv1.bias")[63] == -63.0f);
  // The engine's converter accepts it as a (partial) torchvision export.
  const ConvertedWeights converted = convert_torchvision_vgg16(out);
  CHECK(converted.layers_present == std::vector<std::string>{"block1_conv1"});
}

TEST_CASE("convert_weights tool: help, errors, and a conversion") {
  const std::string tool = busi::testing::built_tool("convert_weights");
  if (tool.empty()) return;
  TempDir dir("convert-tool");
  const std::string log = dir.file("log.txt");
  auto run = [&](const std::string& args) {
    return busi::testing::run_logged(tool + " " + args, log);
  };
  CHECK(run("--help") == 0);
  CHECK(busi::testing::read_bytes(log).find("--from torchvision|keras") != std::string::npos);
  CHECK(run("--from caffe x") == 2);
  CHECK(run("--from keras '" + dir.file("missing.h5") + "' --out '" + dir.file("o") + "'") == 1);
  CHECK(busi::testing::read_bytes(log).find("not found") != std::string::npos);

#ifdef BUSI_WITH_HDF5
  const std::string h5 = dir.file("notop.h5");
  {
    H5Writer w(h5);
    w.conv_layer("block1_conv1", 3, 3, 3, 64);
    w.conv_layer("block1_conv2", 3, 3, 64, 64, /*keras1=*/true);
  }
  const std::string out = dir.file("out.safetensors");
  CHECK(run("--from keras '" + h5 + "' --out '" + out + "'") == 0);
  const std::string printed = busi::testing::read_bytes(log);
  INFO(printed);
  CHECK(printed.find("conv layers present (2 of 13): block1_conv1, block1_conv2") !=
        std::string::npos);
  CHECK(printed.find("conv layers MISSING (11 of 13): block2_conv1") != std::string::npos);
  CHECK(SafetensorsFile(out).metadata().at(kPreprocessingKey) == kImagenetCaffe);
#endif  // BUSI_WITH_HDF5
}

TEST_CASE("weights/manifest.json matches the VGG16 table and the shared file") {
  const std::string text =
      busi::testing::read_bytes(std::string(BUSI_SOURCE_DIR) + "/weights/manifest.json");
  const json::Value manifest = json::parse(text, "weights/manifest.json");
  const json::Value* files = manifest.find("files");
  REQUIRE(files != nullptr);
  auto entry = [&](const std::string& name) -> const json::Value& {
    for (const json::Value& f : files->array)
      if (f.find("name")->string == name) return f;
    FAIL("manifest has no " << name);
    return *files;
  };
  auto shapes_of = [](const json::Value& tensors) {
    std::map<std::string, Shape> out;
    for (const auto& [name, dims] : tensors.members) {
      Shape s;
      for (const json::Value& d : dims.array) s.push_back(d.integer);
      out[name] = s;
    }
    return out;
  };

  // The torchvision file: every features.N tensor has the engine table's shape.
  const auto tv = shapes_of(*entry("vgg16-397923af.pth").find("tensors"));
  for (const auto& [tv_name, engine_name] : vgg16_torchvision_to_engine())
    CHECK(tv.at(tv_name) == *vgg16_conv_tensor_shape(engine_name));
  // The engine's converted file and the Keras file.
  const auto engine = shapes_of(*entry("vgg16_imagenet.safetensors").find("tensors"));
  CHECK(engine.size() == 26);
  for (const auto& [name, shape] : engine) CHECK(shape == *vgg16_conv_tensor_shape(name));
  const json::Value& keras =
      *entry("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").find("layers");
  CHECK(keras.members.size() == 13);
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    const auto shapes = shapes_of(*keras.find(l.name));
    CHECK(shapes.at("kernel") == Shape{3, 3, l.in_channels, l.out_channels});
  }

  // The shared partial file: checksum and every tensor's shape as listed.
  const json::Value& partial = entry("vgg16_torchvision_partial.safetensors");
  if (!std::filesystem::exists(kSharedPartial)) {
    MESSAGE("skipping the shared file checks: " << kSharedPartial << " not found");
    return;
  }
  CHECK(sha256_file(kSharedPartial) == partial.find("sha256")->string);
  SafetensorsFile file(kSharedPartial);
  const auto listed = shapes_of(*partial.find("tensors"));
  CHECK(listed.size() == file.entries().size());
  for (const TensorEntry& e : file.entries()) CHECK(listed.at(e.name) == e.shape);
}
