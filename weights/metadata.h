// The "__metadata__" keys and values the engine writes into weight files and checkpoints
// (documented in weights/README.md), and how a loader tells which preprocessing weights expect.
#pragma once

#include <map>
#include <string>

namespace busi::weights {

// Key "format": which kind of file this is, and its version.
inline constexpr const char* kFormatKey = "format";
inline constexpr const char* kWeightsFormat = "busi-engine weights v1";
inline constexpr const char* kCheckpointFormat = "busi-engine checkpoint v1";

// Key "model": the engine's name of the model the tensors belong to ("vgg16", "simple_cnn").
inline constexpr const char* kModelKey = "model";

// Key "preprocessing": what the input images must look like for these weights. The value starts
// with one of these names (it may go on with ": details", as in the shared partial file).
inline constexpr const char* kPreprocessingKey = "preprocessing";
// torchvision: RGB, x/255, then mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
inline constexpr const char* kImagenetTorch = "imagenet-torch";
// Keras/Caffe: BGR, 0..255, minus mean (103.939, 116.779, 123.68) per channel, no scaling.
inline constexpr const char* kImagenetCaffe = "imagenet-caffe";

// Keys "source" (where the weights came from), "layers" and "layers_missing" (comma-separated
// layer names in the engine's naming), "source_sha256" (checksum of the converted input).
inline constexpr const char* kSourceKey = "source";
inline constexpr const char* kLayersKey = "layers";
inline constexpr const char* kLayersMissingKey = "layers_missing";
inline constexpr const char* kSourceSha256Key = "source_sha256";

// "imagenet-torch" or "imagenet-caffe" when the metadata's "preprocessing" value starts with
// one of them, "" when the key is absent; any other value is returned unchanged.
std::string preprocessing_of(const std::map<std::string, std::string>& metadata);

}  // namespace busi::weights
