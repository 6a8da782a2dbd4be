// VGG16's ImageNet weights: which file to read (the converted one, else the shared partial file,
// else an error with the commands that make one), and loading it, explicitly partially: the
// conv layers it held are named, the others stay He-initialised.
#pragma once

#include <set>
#include <string>

#include "models/vgg16.h"

namespace busi::tools {

// --weights PATH when given (it must exist); otherwise PATH (the converted default) when it
// exists, else ../shared/weights/vgg16_torchvision_partial.safetensors, said in one line. Throws
// busi::Error with the commands that create the file when neither exists.
std::string resolve_weights_file(const std::string& path, bool given);

// What was loaded into the model, for freezing, parameter groups, config and metrics.
struct Pretrained {
  std::string weights_file;      // "" with --init random
  std::set<std::string> layers;  // conv layers with ImageNet weights
  std::string summary;           // "ImageNet weights: 5 of 13 conv layers (...); ..."
  std::string preprocessing;     // imagenet-torch / imagenet-caffe
};

// Loads `weights_file` into the model ("" = --init random: nothing to load).
Pretrained load_imagenet(models::VGG16& model, const std::string& weights_file);

}  // namespace busi::tools
