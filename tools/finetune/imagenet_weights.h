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

// resolve_weights_file's choice, said nowhere and never failing: "" when there is no file. For
// decisions taken before the run starts (the preset for a complete file).
std::string weights_file_to_use(const std::string& path, bool given);

// The conv layers `weights_file` holds (weight and bias under the engine's names), read from
// the header only; empty for "" or a file that cannot be read (the load reports it later).
std::set<std::string> imagenet_layers_in_file(const std::string& weights_file);
// True when it holds all 13: a complete ImageNet file, for which cpu-quick runs the seed's
// recipe at 224 px.
bool holds_all_imagenet_layers(const std::string& weights_file);

// A complete 13-layer file for testing and timing the complete-weights path here, where the real
// file cannot be had: the conv layers of `partial` as they are, the others He-initialised from
// `seed`, with metadata that says so ("synthetic"). Its accuracy means nothing: never a model.
void write_synthetic_complete_weights(const std::string& partial, const std::string& out,
                                      uint64_t seed);

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
