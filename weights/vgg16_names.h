// VGG16's 13 conv layers in the engine's Keras-style names (block1_conv1 ... block5_conv3), their
// torchvision names (features.N) and shapes, and the options and summary used when loading
// ImageNet weights into models::VGG16. Shared by the model code and tools/convert_weights.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "weights/state_dict_io.h"

namespace busi::weights {

struct VGG16ConvLayer {
  std::string name;       // "block1_conv1"
  int torchvision_index;  // N of torchvision's features.N (the ReLUs and pools take the gaps)
  int64_t in_channels;
  int64_t out_channels;
  // Tensor shapes in the engine's layout (the same as torchvision's): weight O x I x 3 x 3.
  Shape weight_shape() const { return {out_channels, in_channels, 3, 3}; }
  Shape bias_shape() const { return {out_channels}; }
};

// The 13 conv layers in order: features.0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28.
const std::vector<VGG16ConvLayer>& vgg16_conv_layers();

// torchvision name -> engine name for all 26 conv tensors ("features.0.weight" ->
// "block1_conv1.weight"); usable as LoadOptions::rename.
const std::map<std::string, std::string>& vgg16_torchvision_to_engine();

// The expected shape of an engine-named conv tensor ("block1_conv1.weight" -> (64, 3, 3, 3)),
// or nothing if the name is not one of the 26.
std::optional<Shape> vgg16_conv_tensor_shape(const std::string& engine_name);

// The default converted file, relative to the repository root (never committed).
inline constexpr const char* kDefaultVGG16WeightsFile = "weights/vgg16_imagenet.safetensors";

// Options for loading ImageNet weights (torchvision or engine naming) into the state dict of
// models::VGG16: torchvision names are renamed; any conv layer may be absent (a partial file),
// and the new head ("head_" tensors) is never in the file. The report says what was loaded;
// print vgg16_imagenet_summary(report). Unexpected tensors (e.g. torchvision's classifier) stay
// an error: convert such files with tools/convert_weights first.
LoadOptions vgg16_imagenet_load_options();

// The conv layers whose weight and bias were both loaded, in order.
std::vector<std::string> vgg16_conv_layers_loaded(const LoadReport& report);

// One line for tools and reports, e.g. "ImageNet weights: 5 of 13 conv layers (block1_conv1,
// ..., block3_conv1); He-initialised: block3_conv2, ..., block5_conv3". A layer of which the
// file held only the weight or only the bias counts as not loaded and is named in a warning.
std::string vgg16_imagenet_summary(const LoadReport& report);

}  // namespace busi::weights
