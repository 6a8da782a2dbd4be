// The VGG16 converters of convert_vgg16.h: rename, check every shape against the VGG16 layer
// table, and record where the weights came from and what preprocessing they expect.
#include "weights/convert_vgg16.h"

#include <filesystem>
#include <set>

#include "kernels/common/error.h"
#include "weights/keras_h5.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"
#include "weights/state_dict_io.h"
#include "weights/torch_checkpoint.h"
#include "weights/vgg16_names.h"

namespace busi::weights {

namespace {

const char* kWhereToGetWeights =
    "Get the complete weights with scripts/get_weights.sh torchvision (vgg16-397923af.pth) or "
    "scripts/get_weights.sh keras (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5); see "
    "weights/README.md";

void check_input_exists(const std::string& input, const char* kind) {
  BUSI_CHECK(std::filesystem::is_regular_file(input), kind, " weights file '", input,
             "' not found. ", kWhereToGetWeights);
}

// "a,b,c"; "" for no names (the metadata lists are machine-readable).
std::string comma_list(const std::vector<std::string>& names) {
  return names.empty() ? "" : join_names(names, ",");
}

const Tensor* find_tensor(const StateDict& tensors, const std::string& name) {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t.tensor;
  return nullptr;
}

// Puts the tensors in VGG16 layer order, fills layers_present/missing, and checks that every
// layer has both its weight and its bias with VGG16's shapes.
void finish(ConvertedWeights& out, StateDict tensors, const std::string& where) {
  for (const NamedTensor& t : tensors) {
    const std::optional<Shape> expected = vgg16_conv_tensor_shape(t.name);
    BUSI_CHECK(expected.has_value(), where, ": '", t.name, "' is not a VGG16 conv tensor");
    BUSI_CHECK(t.tensor.shape() == *expected, where, ": tensor '", t.name, "' has shape ",
               shape_str(t.tensor.shape()), " but VGG16's is ", shape_str(*expected));
  }
  for (const VGG16ConvLayer& layer : vgg16_conv_layers()) {
    const Tensor* weight = find_tensor(tensors, layer.name + ".weight");
    const Tensor* bias = find_tensor(tensors, layer.name + ".bias");
    BUSI_CHECK((weight == nullptr) == (bias == nullptr), where, ": layer ", layer.name, " has a ",
               weight ? "weight but no bias" : "bias but no weight");
    if (weight == nullptr) {
      out.layers_missing.push_back(layer.name);
      continue;
    }
    out.layers_present.push_back(layer.name);
    out.tensors.push_back({layer.name + ".weight", *weight});
    out.tensors.push_back({layer.name + ".bias", *bias});
  }
  BUSI_CHECK(!out.layers_present.empty(), where, ": no VGG16 conv layer found. ",
             kWhereToGetWeights);

  out.metadata[kFormatKey] = kWeightsFormat;
  out.metadata[kModelKey] = "vgg16";
  out.metadata[kLayersKey] = comma_list(out.layers_present);
  out.metadata[kLayersMissingKey] = comma_list(out.layers_missing);
}

void record_source(ConvertedWeights& out, const std::string& input, const std::string& source) {
  out.metadata[kSourceKey] = source;
  out.metadata["source_file"] = std::filesystem::path(input).filename().string();
  out.metadata[kSourceSha256Key] = sha256_file(input);
}

}  // namespace

ConvertedWeights convert_torchvision_vgg16(const std::string& input) {
  check_input_exists(input, "torchvision");
  // The input's tensors, from a PyTorch checkpoint (the .pth torchvision publishes, read without
  // Python) or from a safetensors file (tools/export_torchvision_vgg16.py, or the shared partial
  // file), with the safetensors metadata where there is some.
  StateDict input_tensors;
  std::map<std::string, std::string> input_metadata;
  std::vector<std::string> not_float;
  const bool checkpoint = looks_like_torch_checkpoint(input);
  const std::string where = std::string(checkpoint ? "PyTorch checkpoint" : "torchvision weights") +
                            " file '" + input + "'";
  if (checkpoint) {
    TorchCheckpoint ckpt = read_torch_checkpoint(input);
    input_tensors = std::move(ckpt.tensors);
    not_float = std::move(ckpt.skipped);
  } else {
    SafetensorsFile file(input);
    for (const TensorEntry& e : file.entries())
      input_tensors.push_back({e.name, file.read_tensor(e.name)});
    input_metadata = file.metadata();
  }
  const std::map<std::string, std::string>& to_engine = vgg16_torchvision_to_engine();

  ConvertedWeights out;
  for (const std::string& s : not_float) {
    BUSI_CHECK(s.rfind("classifier.", 0) == 0, where, ": entry ", s,
               " is not a floating-point tensor; torchvision's VGG16 has none");
    out.ignored.push_back(s);
  }
  StateDict tensors;
  std::set<std::string> targets;
  for (NamedTensor& t : input_tensors) {
    std::string name = t.name;
    if (const auto it = to_engine.find(name); it != to_engine.end()) {
      name = it->second;
    } else if (t.name.rfind("classifier.", 0) == 0) {
      out.ignored.push_back(t.name);  // torchvision's 1000-class head: the engine has its own
      continue;
    } else {
      BUSI_CHECK(vgg16_conv_tensor_shape(name).has_value(), where, ": tensor '", t.name,
                 "' is not part of torchvision's VGG16 (expected features.N.weight/bias with N "
                 "in 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, or the engine's names; "
                 "is this another model, such as vgg16_bn?)");
    }
    BUSI_CHECK(targets.insert(name).second, where, ": two tensors map to '", name, "'");
    const Shape expected = *vgg16_conv_tensor_shape(name);
    BUSI_CHECK(t.tensor.shape() == expected, where, ": tensor '", t.name, "' has shape ",
               shape_str(t.tensor.shape()), " but VGG16's ", name, " is ", shape_str(expected));
    tensors.push_back({name, std::move(t.tensor)});
  }
  finish(out, std::move(tensors), where);

  // Weights from torchvision expect torchvision's preprocessing, unless an exported file says
  // it came from the Caffe/Keras release.
  const std::string stated = preprocessing_of(input_metadata);
  out.metadata[kPreprocessingKey] = stated == kImagenetCaffe ? kImagenetCaffe : kImagenetTorch;
  const auto source = input_metadata.find(kSourceKey);
  record_source(out, input,
                source != input_metadata.end() ? source->second
                : checkpoint ? "torchvision VGG16 weights (PyTorch checkpoint, read directly)"
                             : "torchvision VGG16 weights");
  return out;
}

ConvertedWeights convert_keras_vgg16(const std::string& input) {
  check_input_exists(input, "Keras");
  const std::string where = "Keras weights file '" + input + "'";
  std::vector<std::string> names;
  for (const VGG16ConvLayer& layer : vgg16_conv_layers()) names.push_back(layer.name);
  KerasConvLayers layers = read_keras_conv_layers(input, names);

  ConvertedWeights out;
  finish(out, std::move(layers.tensors), where);
  out.metadata[kPreprocessingKey] = kImagenetCaffe;
  record_source(out, input, "Keras VGG16 ImageNet weights (Caffe release, HDF5)");
  return out;
}

void write_converted(const std::string& path, const ConvertedWeights& weights) {
  write_safetensors(path, weights.tensors, weights.metadata);
}

}  // namespace busi::weights
