// Tests of checkpoints: a round trip of model, optimiser state, epoch, RNG states and settings
// (a resumed Adam continues exactly), atomic writes, and the errors for the wrong model, a
// weights file, malformed metadata and unwritable paths.
#include <doctest/doctest.h>

#include <filesystem>

#include "engine/optim.h"
#include "engine/random.h"
#include "tests/test_safetensors_helpers.h"
#include "weights/checkpoint.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::file_names_in;
using busi::testing::TempDir;

namespace {

// A model's state: a parameter and a batch-norm buffer.
struct TinyModel {
  Tensor weight = Tensor::from_vector({0.5f, -1.0f, 2.0f}, {3});
  Tensor running_mean = Tensor::from_vector({0.1f, 0.2f}, {2});
  StateDict state_dict() const {
    return {{"fc.weight", weight}, {"bn.running_mean", running_mean}};
  }
};

CheckpointInfo example_info() {
  CheckpointInfo info;
  info.model_name = "simple_cnn";
  info.epoch = 7;
  info.optimizer_steps = 123;
  info.rng["default"] = {42, 1001};
  info.rng["data.shuffle"] = {5, 0};  // a name with a dot
  info.settings = {{"lr", "0.001"}, {"batch size", "16"}, {"augment", "flip,rotate"}};
  return info;
}

}  // namespace

TEST_CASE("checkpoint round trip: model, optimiser, epoch, RNG state, settings") {
  TempDir dir("ckpt-roundtrip");
  const std::string path = dir.file("epoch7.safetensors");

  // Train a few Adam steps so that the optimiser has real state.
  TinyModel model;
  model.weight.set_requires_grad(true);
  optim::Adam adam({optim::ParamGroup{"all", {{"fc.weight", model.weight}}, 0.1f, 0.0f}});
  for (int s = 0; s < 3; ++s) {
    model.weight.set_grad(Tensor::from_vector({0.3f, -0.2f, 0.1f * s}, {3}));
    adam.step();
  }
  Generator gen(42);
  for (int i = 0; i < 1001; ++i) gen.next_u32();
  CheckpointInfo info = example_info();
  info.optimizer_steps = adam.step_count();
  info.rng["default"] = rng_state_of(gen);
  save_checkpoint(path, info, model.state_dict(), adam.state_dict());
  CHECK(file_names_in(dir.path()) == std::vector<std::string>{"epoch7.safetensors"});

  // Metadata alone.
  const CheckpointInfo read = read_checkpoint_info(path);
  CHECK(read.model_name == "simple_cnn");
  CHECK(read.epoch == 7);
  CHECK(read.optimizer_steps == 3);
  CHECK(read.rng == info.rng);
  CHECK(read.settings == info.settings);

  // Tensor names in the file.
  SafetensorsFile file(path);
  CHECK(file.find("model.fc.weight") != nullptr);
  CHECK(file.find("model.bn.running_mean") != nullptr);
  CHECK(file.find("optim.fc.weight.exp_avg") != nullptr);
  CHECK(file.metadata().at(kFormatKey) == kCheckpointFormat);

  // Restore into a fresh model and optimiser, then both continue identically.
  TinyModel resumed;
  resumed.weight = Tensor::zeros({3});
  resumed.running_mean = Tensor::zeros({2});
  const LoadedCheckpoint loaded = load_checkpoint(path, "simple_cnn", resumed.state_dict());
  CHECK(loaded.model.loaded.size() == 2);
  CHECK(resumed.weight.to_vector() == model.weight.detach().to_vector());
  CHECK(resumed.running_mean.to_vector() == model.running_mean.to_vector());
  CHECK(loaded.optimizer.size() == adam.state_dict().size());

  resumed.weight.set_requires_grad(true);
  optim::Adam adam2({optim::ParamGroup{"all", {{"fc.weight", resumed.weight}}, 0.1f, 0.0f}});
  adam2.load_state_dict(loaded.optimizer);
  adam2.set_step_count(loaded.info.optimizer_steps);
  model.weight.set_grad(Tensor::from_vector({0.05f, 0.5f, -0.4f}, {3}));
  resumed.weight.set_grad(Tensor::from_vector({0.05f, 0.5f, -0.4f}, {3}));
  adam.step();
  adam2.step();
  CHECK(resumed.weight.to_vector() == model.weight.detach().to_vector());

  Generator restored(0);
  restore_rng_state(restored, loaded.info.rng.at("default"));
  CHECK(restored.next_u32() == gen.next_u32());
  CHECK(restored.offset() == gen.offset());
}

TEST_CASE("checkpoint errors: wrong model, not a checkpoint, bad metadata, wrong tensors") {
  TempDir dir("ckpt-errors");
  const std::string path = dir.file("c.safetensors");
  TinyModel model;
  CheckpointInfo info = example_info();
  info.model_name = "vgg16";
  save_checkpoint(path, info, model.state_dict(), {});
  CHECK_THROWS_WITH_AS(load_checkpoint(path, "simple_cnn", model.state_dict()),
                       doctest::Contains("is for model 'vgg16', not 'simple_cnn'"), Error);
  CHECK_NOTHROW(load_checkpoint(path, "vgg16", model.state_dict()));

  // A weights file is not a checkpoint, nor is a file from elsewhere.
  const std::string weights = dir.file("w.safetensors");
  write_safetensors(weights, model.state_dict(), {{kFormatKey, kWeightsFormat}});
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("is a weights file, not a checkpoint"), Error);
  write_safetensors(weights, model.state_dict(), {{kFormatKey, "pt"}});
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("is not a busi-engine checkpoint (metadata format is "
                                         "'pt'"),
                       Error);
  write_safetensors(weights, model.state_dict(), {{kFormatKey, "busi-engine checkpoint v9"}});
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("cannot read (it reads 'busi-engine checkpoint v1')"),
                       Error);

  // Malformed metadata.
  std::map<std::string, std::string> meta = {{kFormatKey, kCheckpointFormat},
                                             {"model", "vgg16"},
                                             {"epoch", "7x"},
                                             {"optimizer_steps", "1"}};
  write_safetensors(weights, {}, meta);
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("metadata 'epoch' = '7x' is not an integer"), Error);
  meta["epoch"] = "7";
  meta["rng.default.seed"] = "1";  // its offset is missing
  write_safetensors(weights, {}, meta);
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("metadata 'rng.default.offset' is missing"), Error);
  meta.erase("rng.default.seed");
  meta.erase("model");
  write_safetensors(weights, {}, meta);
  CHECK_THROWS_WITH_AS(read_checkpoint_info(weights),
                       doctest::Contains("metadata 'model' is missing"), Error);

  // A model with a tensor the checkpoint lacks, or of another shape.
  StateDict bigger = model.state_dict();
  bigger.push_back({"extra.weight", Tensor::zeros({1})});
  CHECK_THROWS_WITH_AS(load_checkpoint(path, "vgg16", bigger),
                       doctest::Contains("missing tensor 'extra.weight'"), Error);
  StateDict reshaped = {{"fc.weight", Tensor::zeros({1, 3})},
                        {"bn.running_mean", Tensor::zeros({2})}};
  CHECK_THROWS_WITH_AS(load_checkpoint(path, "vgg16", reshaped),
                       doctest::Contains("tensor 'fc.weight' (in the file: 'model.fc.weight') "
                                         "has shape (3,) in the file but the model expects "
                                         "(1, 3)"),
                       Error);
}

TEST_CASE("checkpoints are written atomically") {
  TempDir dir("ckpt-atomic");
  const std::string path = dir.file("last.safetensors");
  TinyModel model;
  CheckpointInfo info = example_info();
  save_checkpoint(path, info, model.state_dict(), {});
  info.epoch = 8;
  save_checkpoint(path, info, model.state_dict(), {});  // replaces the previous one
  CHECK(read_checkpoint_info(path).epoch == 8);
  CHECK(file_names_in(dir.path()) == std::vector<std::string>{"last.safetensors"});  // no temp

  // A directory that does not exist.
  CHECK_THROWS_WITH_AS(
      save_checkpoint(dir.file("no/such/dir/c.safetensors"), info, model.state_dict(), {}),
      doctest::Contains("cannot create the temporary file"), Error);
  // A path that is a directory: the temp file is written, the rename fails, and the temp file is
  // removed; the directory is untouched.
  const std::string taken = dir.file("taken");
  std::filesystem::create_directory(taken);
  CHECK_THROWS_WITH_AS(save_checkpoint(taken, info, model.state_dict(), {}),
                       doctest::Contains("renaming"), Error);
  CHECK(file_names_in(dir.path()) == std::vector<std::string>{"last.safetensors", "taken"});
  CHECK(std::filesystem::is_directory(taken));
  // A failure before writing (an invalid model name) leaves the old checkpoint intact.
  info.model_name = "";
  CHECK_THROWS_WITH_AS(save_checkpoint(path, info, model.state_dict(), {}),
                       doctest::Contains("model name is empty"), Error);
  CHECK(read_checkpoint_info(path).epoch == 8);
}
