// Writes the seed corpora of the fuzz targets (fuzz/run_fuzzers.sh calls it): real files made by
// the engine's own writers and the same libraries the users' files come from - PNG and JPEG
// images (stb_image_write), safetensors weight and checkpoint files, JSON documents, split CSVs,
// the PyTorch fixtures of tests/fixtures/torch (written by PyTorch), a Keras-style HDF5 file (the
// HDF5 library). No BUSI image is a seed: what the fuzzers find is committed as regression
// inputs, and nothing derived from the dataset may be.
//   write_seeds OUT_DIR      (one sub-folder per target: OUT_DIR/image, OUT_DIR/json, ...)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "engine/random.h"
#include "engine/state_dict.h"
#include "engine/tensor.h"
#include "tests/h5_writer.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

namespace fs = std::filesystem;

namespace {

void text(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<uint8_t> pixels(int h, int w, int c) {
  std::vector<uint8_t> p(static_cast<size_t>(h) * w * c);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 37 + i / 7);
  return p;
}

void images(const fs::path& dir) {
  struct Shape {
    int h, w, c;
  };
  for (const Shape s : {Shape{8, 8, 1}, Shape{9, 16, 3}, Shape{7, 5, 4}, Shape{1, 3, 2}}) {
    const std::vector<uint8_t> p = pixels(s.h, s.w, s.c);
    const std::string stem =
        std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
    stbi_write_png((dir / (stem + ".png")).c_str(), s.w, s.h, s.c, p.data(), s.w * s.c);
    if (s.c != 2 && s.c != 4)
      stbi_write_jpg((dir / (stem + ".jpg")).c_str(), s.w, s.h, s.c, p.data(), 80);
  }
}

busi::StateDict small_state(uint64_t seed) {
  busi::Generator gen(seed);
  busi::StateDict d;
  for (const auto& [name, shape] : std::vector<std::pair<std::string, busi::Shape>>{
           {"conv.weight", {4, 1, 3, 3}}, {"conv.bias", {4}}, {"fc.weight", {3, 4}}}) {
    std::vector<float> v(static_cast<size_t>(busi::shape_numel(shape)));
    for (float& x : v) x = static_cast<float>(gen.normal());
    d.push_back({name, busi::Tensor::from_vector(v, shape)});
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* target :
       {"image", "safetensors", "json", "checkpoint", "split_csv", "torch_checkpoint", "keras_h5"})
    fs::create_directories(out / target);

  images(out / "image");

  busi::weights::write_safetensors((out / "safetensors" / "weights.safetensors").string(),
                                   small_state(1), {{"format", "busi-engine weights v1"}});
  busi::weights::CheckpointInfo info;
  info.model_name = "simple_cnn";
  info.epoch = 3;
  info.optimizer_steps = 42;
  info.rng = {{"default", {7, 12}}};
  info.settings = {{"lr", "0.001"}, {"img_size", "96"}, {"class_names", "[\"a\",\"b\"]"}};
  const fs::path checkpoint = out / "checkpoint" / "last.safetensors";
  busi::weights::save_checkpoint(checkpoint.string(), info, small_state(2),
                                 {{"conv.weight.exp_avg", small_state(3)[0].tensor}});
  fs::copy_file(checkpoint, out / "safetensors" / "checkpoint.safetensors",
                fs::copy_options::overwrite_existing);

  text(
      out / "json" / "header.json",
      R"({"__metadata__":{"format":"busi-engine weights v1"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})");
  text(
      out / "json" / "config.json",
      R"({"model": "vgg16", "lr": 1.5e-4, "augment": true, "folds": null, "classes": ["benign", "malignant", "normal"], "nested": {"x": [1, -2.5, "s\u00e9\n"]}})");
  text(out / "json" / "metrics.json",
       R"({"test": {"accuracy": 0.77, "ci": [0.69, 0.85]}, "n": 100})");

  text(out / "split_csv" / "split.csv",
       "path,class,subset\nbenign/benign (1).png,benign,train\nbenign/benign (2).png,benign,val\n"
       "benign/benign (3).png,benign,test\nmalignant/malignant (1).png,malignant,train\n"
       "malignant/malignant (2).png,malignant,val\n\"malignant/malignant "
       "(3).png\",malignant,test\n");

  for (const auto& entry :
       fs::directory_iterator(fs::path(BUSI_SOURCE_DIR) / "tests" / "fixtures" / "torch"))
    fs::copy_file(entry.path(), out / "torch_checkpoint" / entry.path().filename(),
                  fs::copy_options::overwrite_existing);

#ifdef BUSI_WITH_HDF5
  {
    busi::testing::H5Writer h5((out / "keras_h5" / "notop.h5").string());
    h5.conv_layer("block1_conv1", 3, 3, 3, 64);
    h5.conv_layer("block1_conv2", 3, 3, 64, 4, /*keras1_names=*/true);
  }
#endif
  std::printf("write_seeds: seeds in %s\n", out.c_str());
  return 0;
}
