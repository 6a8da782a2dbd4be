// Finding and loading VGG16's ImageNet weights (see imagenet_weights.h).
#include "tools/finetune/imagenet_weights.h"

#include <filesystem>
#include <iostream>

#include "kernels/common/error.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/state_dict_io.h"
#include "weights/vgg16_names.h"

namespace busi::tools {

namespace fs = std::filesystem;

namespace {

std::string shared_partial_weights() {
  return fs::path(BUSI_SOURCE_DIR "/../shared/weights/vgg16_torchvision_partial.safetensors")
      .lexically_normal()
      .string();
}

std::string missing_weights_message(const std::string& path) {
  return "VGG16 ImageNet weights not found: '" + path +
         "'.\nCreate the engine's weight file with one of:\n"
         "  scripts/get_weights.sh torchvision   # downloads vgg16-397923af.pth, checks, converts\n"
         "  scripts/get_weights.sh keras         # the same for Keras' notop .h5 file\n"
         "or, from a file you already have:\n"
         "  build/tools/convert_weights --from torchvision vgg16-397923af.pth\n"
         "  build/tools/convert_weights --from keras "
         "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5\n"
         "(all write weights/vgg16_imagenet.safetensors; see weights/README.md), or give "
         "--weights PATH, or --init random for the ablation without ImageNet weights.";
}

}  // namespace

std::string weights_file_to_use(const std::string& path, bool given) {
  std::error_code ec;
  if (given || fs::exists(path, ec)) return fs::exists(path, ec) ? path : "";
  return fs::exists(shared_partial_weights(), ec) ? shared_partial_weights() : "";
}

std::set<std::string> imagenet_layers_in_file(const std::string& weights_file) {
  std::set<std::string> layers;
  if (weights_file.empty()) return layers;
  try {
    // The engine's names, or torchvision's (features.N.*), as the load accepts them.
    std::set<std::string> tensors;
    const auto& torchvision = weights::vgg16_torchvision_to_engine();
    const weights::SafetensorsFile file(weights_file);
    for (const weights::TensorEntry& e : file.entries()) {
      const auto renamed = torchvision.find(e.name);
      tensors.insert(renamed == torchvision.end() ? e.name : renamed->second);
    }
    for (const weights::VGG16ConvLayer& layer : weights::vgg16_conv_layers())
      if (tensors.count(layer.name + ".weight") && tensors.count(layer.name + ".bias"))
        layers.insert(layer.name);
  } catch (const Error&) {
    layers.clear();  // not a safetensors file: the load reports it, with the file's name
  }
  return layers;
}

bool holds_all_imagenet_layers(const std::string& weights_file) {
  return imagenet_layers_in_file(weights_file).size() == weights::vgg16_conv_layers().size();
}

void write_synthetic_complete_weights(const std::string& partial, const std::string& out,
                                      uint64_t seed) {
  models::VGG16Config config;
  config.seed = seed;
  models::VGG16 model(config);  // every conv layer He-initialised
  const Pretrained loaded = load_imagenet(model, partial);
  StateDict conv;
  for (const NamedTensor& t : model.state_dict())
    if (t.name.rfind("block", 0) == 0) conv.push_back(t);
  std::map<std::string, std::string> metadata = weights::read_safetensors(partial).metadata();
  metadata.erase(weights::kLayersKey);  // the partial file's lists would be wrong here
  metadata.erase(weights::kLayersMissingKey);
  metadata["synthetic"] =
      "a test file: " + std::to_string(loaded.layers.size()) + " conv layers from " + partial +
      ", the other " + std::to_string(weights::vgg16_conv_layers().size() - loaded.layers.size()) +
      " He-initialised with seed " + std::to_string(seed) + "; not ImageNet weights";
  weights::write_safetensors(out, conv, metadata);
}

// --weights as given; otherwise the converted default, else the shared partial file (said so).
std::string resolve_weights_file(const std::string& path, bool given) {
  const std::string chosen = weights_file_to_use(path, given);
  BUSI_CHECK(!chosen.empty(), missing_weights_message(path));
  if (chosen != path)
    std::cout << "weights: " << path << " does not exist; using the shared partial file " << chosen
              << " instead\n";
  return chosen;
}

Pretrained load_imagenet(models::VGG16& model, const std::string& weights_file) {
  Pretrained p;
  if (weights_file.empty()) {
    p.summary = "ImageNet weights: none (--init random): all 13 conv layers He-initialised";
    p.preprocessing = weights::kImagenetTorch;  // the same input as the ImageNet run
    return p;
  }
  p.weights_file = weights_file;
  const weights::LoadReport report = weights::load_state_dict(
      weights_file, model.state_dict(), weights::vgg16_imagenet_load_options());
  for (const std::string& layer : weights::vgg16_conv_layers_loaded(report)) p.layers.insert(layer);
  p.summary = weights::vgg16_imagenet_summary(report);
  p.preprocessing = weights::preprocessing_of(report.metadata);
  if (p.preprocessing.empty()) {
    std::cout << "weights: " << weights_file << " does not say its preprocessing; assuming "
              << weights::kImagenetTorch << "\n";
    p.preprocessing = weights::kImagenetTorch;
  }
  return p;
}

}  // namespace busi::tools
