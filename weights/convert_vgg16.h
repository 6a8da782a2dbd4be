// Converting downloaded VGG16 ImageNet weights (torchvision's .pth or a safetensors export, Keras
// HDF5 files) into the engine's naming and layout, with the metadata the loader and tools read
// (format, preprocessing, source, layers present and missing). Used by tools/convert_weights.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/state_dict.h"

namespace busi::weights {

struct ConvertedWeights {
  StateDict tensors;  // "block1_conv1.weight" ... in layer order, CPU, conv O x I x 3 x 3
  std::map<std::string, std::string> metadata;
  std::vector<std::string> layers_present;  // conv layers converted, in order
  std::vector<std::string> layers_missing;  // conv layers absent from the input (partial file)
  std::vector<std::string> ignored;         // input tensors left out (torchvision's classifier)
};

// From torchvision's PyTorch checkpoint (vgg16-397923af.pth, either torch.save format, read
// directly: torch_checkpoint.h) or a safetensors file, with torchvision names
// (features.N.weight/bias; classifier.* is ignored: the engine's VGG16 has its own head) or
// already in engine naming. Partial inputs
// are allowed and reported; anything that is not a VGG16 conv tensor, a wrong shape, or a layer
// with a weight but no bias is an error. Preprocessing: imagenet-torch (unless the input's own
// metadata names imagenet-caffe).
ConvertedWeights convert_torchvision_vgg16(const std::string& input);

// From a Keras HDF5 weights file (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 or the
// same layout, see keras_h5.h): kernels H x W x I x O become O x I x H x W. Preprocessing:
// imagenet-caffe (BGR, mean 103.939/116.779/123.68 subtracted, no scaling).
ConvertedWeights convert_keras_vgg16(const std::string& input);

// Writes the converted weights atomically.
void write_converted(const std::string& path, const ConvertedWeights& weights);

}  // namespace busi::weights
