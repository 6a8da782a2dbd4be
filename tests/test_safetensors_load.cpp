// Tests of load_state_dict: strict matching of names and shapes, explicit partial loading with
// its report, renames, prefixes, and loading the shared partial VGG16 file into a VGG16-shaped
// state dict ("ImageNet weights: 5 of 13 conv layers").
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "tests/test_safetensors_helpers.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/state_dict_io.h"
#include "weights/vgg16_names.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::TempDir;

namespace {

// A small "model": a conv layer, a batch norm with buffers, a linear head.
StateDict small_model(float fill) {
  return {{"conv.weight", Tensor::full({2, 1, 3, 3}, fill)},
          {"bn.weight", Tensor::full({2}, fill)},
          {"bn.running_mean", Tensor::full({2}, fill)},
          {"head_fc.weight", Tensor::full({3, 2}, fill)},
          {"head_fc.bias", Tensor::full({3}, fill)}};
}

StateDict numbered(const StateDict& like) {
  StateDict out;
  float next = 1;
  for (const NamedTensor& t : like) {
    std::vector<float> v(static_cast<size_t>(t.tensor.numel()));
    for (float& x : v) x = next++;
    out.push_back({t.name, Tensor::from_vector(v, t.tensor.shape())});
  }
  return out;
}

bool all_equal(const Tensor& t, float value) {
  for (float v : t.to_vector())
    if (v != value) return false;
  return true;
}

}  // namespace

TEST_CASE("load_state_dict loads every tensor and reports it") {
  TempDir dir("load-full");
  const std::string path = dir.file("w.safetensors");
  const StateDict source = numbered(small_model(0));
  save_state_dict(path, source, {{"note", "hello"}});

  StateDict model = small_model(0);
  const LoadReport report = load_state_dict(path, model);
  CHECK(report.loaded.size() == 5);
  CHECK(report.loaded.front() == "conv.weight");
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  CHECK(report.metadata.at("note") == "hello");
  CHECK(report.metadata.at(kFormatKey) == kWeightsFormat);  // added by save_state_dict
  for (size_t i = 0; i < model.size(); ++i)
    CHECK(model[i].tensor.to_vector() == source[i].tensor.to_vector());
}

TEST_CASE("wrong shape, missing and unexpected tensors are errors naming file and tensor") {
  TempDir dir("load-errors");
  const std::string path = dir.file("w.safetensors");
  StateDict source = numbered(small_model(0));
  source[0].tensor = Tensor::zeros({2, 3, 3, 3});  // conv.weight with 3 input channels
  save_state_dict(path, source);

  StateDict model = small_model(-1);
  const std::string expected = "'" + path +
                               "': cannot load into the model: tensor 'conv.weight' has shape "
                               "(2, 3, 3, 3) in the file but the model expects (2, 1, 3, 3)";
  CHECK_THROWS_WITH_AS(load_state_dict(path, model), doctest::Contains(expected.c_str()), Error);
  // Checks happen before any copy: nothing was written into the model.
  for (const NamedTensor& t : model) CHECK(all_equal(t.tensor, -1));

  // Missing: the file lacks the head.
  const std::string no_head = dir.file("no_head.safetensors");
  StateDict body = numbered(small_model(0));
  body.resize(3);
  save_state_dict(no_head, body);
  CHECK_THROWS_WITH_AS(load_state_dict(no_head, model),
                       doctest::Contains("missing tensors 'head_fc.weight', 'head_fc.bias'"),
                       Error);

  // Unexpected: the model lacks the head.
  StateDict headless = small_model(0);
  headless.resize(3);
  const std::string full = dir.file("full.safetensors");
  save_state_dict(full, numbered(small_model(0)));
  CHECK_THROWS_WITH_AS(load_state_dict(full, headless),
                       doctest::Contains("unexpected tensors 'head_fc.weight', 'head_fc.bias' "
                                         "(not in the model)"),
                       Error);

  // Every problem is listed in one message.
  StateDict renamed = small_model(0);
  renamed[1].name = "bn.gamma";
  CHECK_THROWS_WITH_AS(load_state_dict(full, renamed),
                       doctest::Contains("missing tensor 'bn.gamma' (the model needs them; "
                                         "LoadOptions::allow_missing"),
                       Error);
  CHECK_THROWS_WITH_AS(load_state_dict(full, renamed),
                       doctest::Contains("unexpected tensor 'bn.weight'"), Error);

  // A model that names one tensor twice.
  StateDict twice = small_model(0);
  twice.push_back(twice[0]);
  CHECK_THROWS_WITH_AS(load_state_dict(full, twice),
                       doctest::Contains("names two tensors 'conv.weight'"), Error);
}

TEST_CASE("partial loading is explicit and reported") {
  TempDir dir("load-partial");
  const std::string path = dir.file("body.safetensors");
  StateDict body = numbered(small_model(0));
  body.resize(3);  // conv and bn only
  save_state_dict(path, body);

  StateDict model = small_model(-1);
  LoadOptions options;
  options.allow_missing = {"head_"};  // a prefix
  const LoadReport report = load_state_dict(path, model, options);
  CHECK(report.loaded == std::vector<std::string>{"conv.weight", "bn.weight", "bn.running_mean"});
  CHECK(report.missing == std::vector<std::string>{"head_fc.weight", "head_fc.bias"});
  CHECK(layer_names(report.loaded) == std::vector<std::string>{"conv", "bn"});
  CHECK(model[0].tensor.to_vector() == body[0].tensor.to_vector());
  CHECK(all_equal(model[3].tensor, -1));  // the head keeps its initial values
  CHECK(all_equal(model[4].tensor, -1));

  // An exact name allows only that tensor.
  options.allow_missing = {"head_fc.weight"};
  CHECK_THROWS_WITH_AS(load_state_dict(path, small_model(0), options),
                       doctest::Contains("missing tensor 'head_fc.bias'"), Error);

  // Unexpected tensors can be allowed too, and are then listed.
  const std::string full = dir.file("full.safetensors");
  save_state_dict(full, numbered(small_model(0)));
  StateDict headless = small_model(0);
  headless.resize(3);
  LoadOptions lenient;
  lenient.allow_unexpected = true;
  const LoadReport r2 = load_state_dict(full, headless, lenient);
  CHECK(r2.unexpected == std::vector<std::string>{"head_fc.weight", "head_fc.bias"});
  CHECK(r2.loaded.size() == 3);
}

TEST_CASE("a tensor of a dtype the engine does not read fails only when it is read") {
  // A PyTorch batch norm's state dict: F32 weight and running mean, and the I64 counter
  // num_batches_tracked, which the engine has no use for.
  TempDir dir("load-dtype");
  const std::string path = dir.file("bn.safetensors");
  const int64_t count = 7;
  std::string counter(8, '\0');
  std::memcpy(counter.data(), &count, 8);
  busi::testing::write_bytes(
      path, busi::testing::safetensors_bytes(
                R"({"bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[8,16]},)"
                R"("bn.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                busi::testing::float_bytes({1.5f, -2}) + counter +
                    busi::testing::float_bytes({0.25f, 4})));

  // The file opens; the F32 tensors read; the I64 one is an error naming file, tensor, dtype.
  SafetensorsFile file(path);
  REQUIRE(file.entries().size() == 3);
  CHECK(file.entry("bn.num_batches_tracked").dtype == FileDType::I64);
  CHECK_FALSE(file_dtype_readable(FileDType::I64));
  CHECK(file.read_vector("bn.running_mean") == std::vector<float>{0.25f, 4});
  const std::string expected = "safetensors file '" + path +
                               "': tensor 'bn.num_batches_tracked' has dtype I64, which the "
                               "engine cannot read (it reads F32, F16, BF16 and F64)";
  CHECK_THROWS_WITH_AS(file.read_vector("bn.num_batches_tracked"), expected.c_str(), Error);

  // A model without the counter loads the rest (the counter is merely unexpected).
  StateDict model = {{"bn.weight", Tensor::zeros({2})}, {"bn.running_mean", Tensor::zeros({2})}};
  LoadOptions lenient;
  lenient.allow_unexpected = true;
  const LoadReport report = load_state_dict(path, model, lenient);
  CHECK(report.loaded == std::vector<std::string>{"bn.weight", "bn.running_mean"});
  CHECK(report.unexpected == std::vector<std::string>{"bn.num_batches_tracked"});
  CHECK(model[0].tensor.to_vector() == std::vector<float>{1.5f, -2});

  // A model that wants it: refused before anything is copied.
  StateDict wants = {{"bn.weight", Tensor::full({2}, -1)},
                     {"bn.num_batches_tracked", Tensor::full({}, -1)}};
  CHECK_THROWS_WITH_AS(load_state_dict(path, wants, lenient),
                       doctest::Contains("tensor 'bn.num_batches_tracked' has dtype I64"), Error);
  CHECK(all_equal(wants[0].tensor, -1));
  // read_all_tensors (the optimiser's state in checkpoints) reads everything: the same error.
  CHECK_THROWS_WITH_AS(read_all_tensors(file, "bn."), doctest::Contains("has dtype I64"), Error);
}

TEST_CASE("allow_missing entries that match nothing, and files with nothing to load, are errors") {
  TempDir dir("load-nothing");
  const std::string path = dir.file("body.safetensors");
  StateDict body = numbered(small_model(0));
  body.resize(3);
  save_state_dict(path, body);

  // "haed_" (a typo for "head_") matches no model tensor: an error naming it, even though the
  // load would otherwise succeed (the correct "head_" is listed too).
  LoadOptions typo;
  typo.allow_missing = {"haed_", "head_"};
  CHECK_THROWS_WITH_AS(load_state_dict(path, small_model(0), typo),
                       doctest::Contains("LoadOptions::allow_missing names 'haed_', which "
                                         "matches no tensor of the model (a typo?)"),
                       Error);
  typo.allow_missing = {"head_"};
  CHECK_NOTHROW(load_state_dict(path, small_model(0), typo));

  // A file of which no tensor belongs to the model, although everything may be missing: an
  // error, not "0 tensors loaded".
  const std::string other = dir.file("other.safetensors");
  save_state_dict(other, {{"features.99.weight", Tensor::zeros({1})}});
  LoadOptions anything;
  anything.allow_missing = {"conv.", "bn.", "head_"};
  anything.allow_unexpected = true;
  CHECK_THROWS_WITH_AS(load_state_dict(other, small_model(0), anything),
                       doctest::Contains("no tensor of the file (1 in all) is a tensor of the "
                                         "model"),
                       Error);
  const std::string empty = dir.file("empty.safetensors");
  save_state_dict(empty, {});
  CHECK_THROWS_WITH_AS(load_state_dict(empty, small_model(0), anything),
                       doctest::Contains("no tensor of the file (0 in all)"), Error);
}

TEST_CASE("rename and prefix map file names to model names") {
  TempDir dir("load-rename");
  const std::string path = dir.file("w.safetensors");
  save_state_dict(path, {{"net.features.0.weight", Tensor::full({2}, 5)},
                         {"net.features.0.bias", Tensor::full({1}, 6)},
                         {"other.thing", Tensor::full({1}, 7)}});
  StateDict model = {{"conv.weight", Tensor::zeros({2})}, {"conv.bias", Tensor::zeros({1})}};
  LoadOptions options;
  options.prefix = "net.";  // "other.thing" is outside the prefix: ignored
  options.rename = {{"features.0.weight", "conv.weight"}, {"features.0.bias", "conv.bias"}};
  const LoadReport report = load_state_dict(path, model, options);
  CHECK(report.loaded.size() == 2);
  CHECK(report.unexpected.empty());
  CHECK(model[0].tensor.to_vector() == std::vector<float>{5, 5});
  CHECK(model[1].tensor.to_vector() == std::vector<float>{6});

  // Two file tensors renamed onto one model tensor.
  const std::string both = dir.file("both.safetensors");
  save_state_dict(both, {{"a", Tensor::zeros({2})}, {"conv.weight", Tensor::zeros({2})}});
  LoadOptions clash;
  clash.rename = {{"a", "conv.weight"}};
  clash.allow_missing = {"conv.bias"};
  CHECK_THROWS_WITH_AS(load_state_dict(both, model, clash),
                       doctest::Contains("file tensors 'a' and 'conv.weight' both map to model "
                                         "tensor 'conv.weight'"),
                       Error);
}

TEST_CASE("read_all_tensors reads state that does not exist yet, by prefix") {
  TempDir dir("load-all");
  const std::string path = dir.file("w.safetensors");
  save_state_dict(path, {{"optim.w.exp_avg", Tensor::full({2}, 1)},
                         {"model.w", Tensor::full({2}, 2)},
                         {"optim.w.exp_avg_sq", Tensor::full({2}, 3)}});
  SafetensorsFile file(path);
  const StateDict optim = read_all_tensors(file, "optim.");
  REQUIRE(optim.size() == 2);
  CHECK(optim[0].name == "w.exp_avg");
  CHECK(optim[1].name == "w.exp_avg_sq");
  CHECK(optim[1].tensor.to_vector() == std::vector<float>{3, 3});
  CHECK(read_all_tensors(file).size() == 3);
}

TEST_CASE("VGG16 ImageNet load options and summary, on the shared partial file") {
  // A state dict shaped like models::VGG16's (13 conv layers, then the new head).
  StateDict vgg;
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    vgg.push_back({l.name + ".weight", Tensor::zeros(l.weight_shape())});
    vgg.push_back({l.name + ".bias", Tensor::zeros(l.bias_shape())});
  }
  vgg.push_back({"head_fc.weight", Tensor::zeros({3, 512})});
  vgg.push_back({"head_fc.bias", Tensor::zeros({3})});

  // A file without a single VGG16 tensor is an error, not "ImageNet weights: 0 of 13".
  TempDir dir("load-vgg-none");
  const std::string none = dir.file("none.safetensors");
  save_state_dict(none, {}, {{kPreprocessingKey, kImagenetTorch}});
  CHECK_THROWS_WITH_AS(
      load_state_dict(none, vgg, vgg16_imagenet_load_options()),
      doctest::Contains("no tensor of the file (0 in all) is a tensor of the model"), Error);

  const std::string path =
      std::string(BUSI_SHARED_DIR) + "/weights/vgg16_torchvision_partial.safetensors";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipping: " << path << " not found");
    return;
  }
  const LoadReport report = load_state_dict(path, vgg, vgg16_imagenet_load_options());
  CHECK(report.loaded.size() == 10);
  CHECK(report.missing.size() == 18);  // 8 conv layers x 2 + the head's 2
  CHECK(vgg16_conv_layers_loaded(report).size() == 5);
  CHECK(vgg16_imagenet_summary(report) ==
        "ImageNet weights: 5 of 13 conv layers (block1_conv1, block1_conv2, block2_conv1, "
        "block2_conv2, block3_conv1); He-initialised: block3_conv2, block3_conv3, block4_conv1, "
        "block4_conv2, block4_conv3, block5_conv1, block5_conv2, block5_conv3");
  CHECK(preprocessing_of(report.metadata) == kImagenetTorch);
  const std::vector<float> w = vgg[0].tensor.to_vector();  // block1_conv1.weight
  CHECK(w[0] == doctest::Approx(-0.5537306f).epsilon(1e-6));
  CHECK(w[2] == doctest::Approx(0.5289615f).epsilon(1e-6));
  CHECK(all_equal(vgg[10].tensor, 0));  // block3_conv2.weight untouched

  // Without the options (strict), the same file is an error listing what is missing.
  CHECK_THROWS_WITH_AS(load_state_dict(path, vgg), doctest::Contains("missing tensors"), Error);
}
