// The VGG16 layer table of vgg16_names.h and the helpers built on it.
#include "weights/vgg16_names.h"

#include <algorithm>

namespace busi::weights {

const std::vector<VGG16ConvLayer>& vgg16_conv_layers() {
  // torchvision's features: conv, ReLU pairs, with a max-pool after each block, so the conv
  // indices skip by 2 inside a block and by 3 across a pool.
  static const std::vector<VGG16ConvLayer> layers = {
      {"block1_conv1", 0, 3, 64},     {"block1_conv2", 2, 64, 64},
      {"block2_conv1", 5, 64, 128},   {"block2_conv2", 7, 128, 128},
      {"block3_conv1", 10, 128, 256}, {"block3_conv2", 12, 256, 256},
      {"block3_conv3", 14, 256, 256}, {"block4_conv1", 17, 256, 512},
      {"block4_conv2", 19, 512, 512}, {"block4_conv3", 21, 512, 512},
      {"block5_conv1", 24, 512, 512}, {"block5_conv2", 26, 512, 512},
      {"block5_conv3", 28, 512, 512},
  };
  return layers;
}

const std::map<std::string, std::string>& vgg16_torchvision_to_engine() {
  static const std::map<std::string, std::string> names = [] {
    std::map<std::string, std::string> m;
    for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
      const std::string tv = "features." + std::to_string(l.torchvision_index);
      m[tv + ".weight"] = l.name + ".weight";
      m[tv + ".bias"] = l.name + ".bias";
    }
    return m;
  }();
  return names;
}

std::optional<Shape> vgg16_conv_tensor_shape(const std::string& engine_name) {
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    if (engine_name == l.name + ".weight") return l.weight_shape();
    if (engine_name == l.name + ".bias") return l.bias_shape();
  }
  return std::nullopt;
}

LoadOptions vgg16_imagenet_load_options() {
  LoadOptions options;
  options.rename = vgg16_torchvision_to_engine();
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) options.allow_missing.insert(l.name + ".");
  options.allow_missing.insert("head_");
  return options;
}

namespace {
bool was_loaded(const LoadReport& report, const std::string& tensor) {
  return std::find(report.loaded.begin(), report.loaded.end(), tensor) != report.loaded.end();
}
}  // namespace

std::vector<std::string> vgg16_conv_layers_loaded(const LoadReport& report) {
  std::vector<std::string> loaded;
  for (const VGG16ConvLayer& l : vgg16_conv_layers())
    if (was_loaded(report, l.name + ".weight") && was_loaded(report, l.name + ".bias"))
      loaded.push_back(l.name);
  return loaded;
}

std::string vgg16_imagenet_summary(const LoadReport& report) {
  const std::vector<std::string> loaded = vgg16_conv_layers_loaded(report);
  std::vector<std::string> initialised, incomplete;
  for (const VGG16ConvLayer& l : vgg16_conv_layers()) {
    if (std::find(loaded.begin(), loaded.end(), l.name) != loaded.end()) continue;
    initialised.push_back(l.name);
    // A file with a layer's weight but not its bias (or the reverse) loads half a layer.
    if (was_loaded(report, l.name + ".weight") || was_loaded(report, l.name + ".bias"))
      incomplete.push_back(l.name);
  }
  std::string line = "ImageNet weights: " + std::to_string(loaded.size()) + " of " +
                     std::to_string(vgg16_conv_layers().size()) + " conv layers";
  if (!loaded.empty()) line += " (" + join_names(loaded) + ")";
  if (!initialised.empty()) line += "; He-initialised: " + join_names(initialised);
  if (!incomplete.empty())
    line += "; WARNING: only the weight or only the bias in the file: " + join_names(incomplete);
  return line;
}

}  // namespace busi::weights
