// SimpleCNN and VGG16 as ONNX nodes (see onnx_network.h). Each network's forward pass
// (models/simple_cnn.cpp, models/vgg16.cpp) is written out again here op by op; the layers come
// from the module's children by name, and each child must be used exactly once.
#include "tools/export/onnx_network.h"

#include <cxxabi.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <typeinfo>

#include "kernels/common/error.h"
#include "models/simple_cnn.h"
#include "models/vgg16.h"

namespace busi::tools {

namespace {

// The C++ class of a module as written in the source ("busi::nn::MaxPool2d"), for messages.
std::string class_name(const std::type_info& type) {
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

// The children of a module by name, each handed out once; finish() refuses a child nobody
// asked for (except dropout, which is the identity at inference and is dropped on purpose).
class Layers {
 public:
  Layers(const nn::Module& module, std::string source) : source_(std::move(source)) {
    for (const auto& [name, child] : module.children()) children_[name] = child.get();
  }

  template <typename Layer>
  const Layer& get(const std::string& name) {
    const auto it = children_.find(name);
    BUSI_CHECK(it != children_.end(), source_, ": the network has no layer '", name,
               "' (the exporter expects the architecture of this engine version)");
    const auto* layer = dynamic_cast<const Layer*>(it->second);
    BUSI_CHECK(layer != nullptr, source_, ": layer '", name, "' is not the kind the exporter ",
               "expects (", class_name(typeid(Layer)), ")");
    children_.erase(it);
    return *layer;
  }

  // Dropout: inverted dropout is the identity in evaluation mode, so it has no node.
  void skip_dropout(const std::string& name) { get<nn::Dropout>(name); }

  void finish() const {
    for (const auto& [name, child] : children_)
      throw Error(source_ + ": layer '" + name + "' (" + class_name(typeid(*child)) +
                  ") is not known to the ONNX exporter: it cannot be left out of the graph");
  }

 private:
  std::string source_;
  std::map<std::string, const nn::Module*> children_;
};

// Conv: x (N, C, H, W), weight (O, C, k, k), bias (O) or none -> (N, O, H', W') with
// H' = (H + 2 pad - k) / stride + 1, cross-correlation as the engine's conv2d.
std::string conv(OnnxGraph& g, const nn::Conv2d& layer, const std::string& x,
                 const std::string& name) {
  const int64_t k = layer.weight.size(2);
  std::vector<std::string> inputs = {x, g.weight(name + ".weight", layer.weight)};
  if (layer.bias.defined()) inputs.push_back(g.weight(name + ".bias", layer.bias));
  return g.node("Conv", inputs, name,
                {OnnxAttribute::of("kernel_shape", std::vector<int64_t>{k, k}),
                 OnnxAttribute::of("strides", std::vector<int64_t>{layer.stride, layer.stride}),
                 OnnxAttribute::of("pads", std::vector<int64_t>{layer.padding, layer.padding,
                                                                layer.padding, layer.padding})});
}

// BatchNormalization in inference mode, as batch_norm2d with training = false:
//   y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, per channel.
std::string batch_norm(OnnxGraph& g, const nn::BatchNorm2d& layer, const std::string& x,
                       const std::string& name) {
  return g.node("BatchNormalization",
                {x, g.weight(name + ".weight", layer.weight), g.weight(name + ".bias", layer.bias),
                 g.weight(name + ".running_mean", layer.running_mean),
                 g.weight(name + ".running_var", layer.running_var)},
                name, {OnnxAttribute::of("epsilon", layer.eps)});
}

// The networks' 2x2 max-pool at stride 2, no padding: H' = floor(H / 2), as max_pool2d (ONNX's
// default ceil_mode 0 floors too).
std::string max_pool_2x2(OnnxGraph& g, const std::string& x, const std::string& name) {
  return g.node("MaxPool", {x}, name,
                {OnnxAttribute::of("kernel_shape", std::vector<int64_t>{2, 2}),
                 OnnxAttribute::of("strides", std::vector<int64_t>{2, 2})});
}

// global_avg_pool2d: (N, C, H, W) -> the mean over H and W, (N, C, 1, 1) flattened to (N, C).
std::string global_avg_pool(OnnxGraph& g, const std::string& x, const std::string& prefix) {
  const std::string pooled = g.node("GlobalAveragePool", {x}, prefix + "global_avg_pool");
  return g.node("Flatten", {pooled}, prefix + "flatten", {OnnxAttribute::of("axis", int64_t{1})});
}

// Linear: y = x W^T + b, x (N, in), weight (out, in): Gemm with transB = 1.
void linear(OnnxGraph& g, const nn::Linear& layer, const std::string& x, const std::string& name,
            const std::string& output) {
  std::vector<std::string> inputs = {x, g.weight(name + ".weight", layer.weight)};
  if (layer.bias.defined()) inputs.push_back(g.weight(name + ".bias", layer.bias));
  g.node_to("Gemm", inputs, output, {OnnxAttribute::of("transB", int64_t{1})});
}

// SimpleCNN::forward: for each block b, (b > 1: 2x2 max-pool) -> conv (no bias) -> batch norm
// -> ReLU; then the head: 2x2 max-pool -> global average pool (N, 8w) -> dropout -> linear.
void emit_simple_cnn(OnnxGraph& g, const models::SimpleCNN& model, std::string h,
                     const std::string& logits, const std::string& p, const std::string& source) {
  Layers layers(model, source);
  for (int64_t b = 1; b <= model.config().blocks; ++b) {
    const std::string block = "block" + std::to_string(b);
    if (b > 1) h = max_pool_2x2(g, h, p + block + "_pool");
    h = conv(g, layers.get<nn::Conv2d>(block + "_conv"), h, p + block + "_conv");
    h = batch_norm(g, layers.get<nn::BatchNorm2d>(block + "_bn"), h, p + block + "_bn");
    h = g.node("Relu", {h}, p + block + "_relu");  // (N, w 2^(b-1), S / 2^(b-1), ...)
  }
  h = max_pool_2x2(g, h, p + "head_pool");
  h = global_avg_pool(g, h, p + "head_");  // (N, 8w)
  layers.skip_dropout("dropout");
  linear(g, layers.get<nn::Linear>("fc"), h, p + "fc", logits);
  layers.finish();
}

// VGG16::forward: the 13 conv layers, each followed by ReLU, with a 2x2 max-pool before each
// layer that opens a block; then the head: 2x2 max-pool (block5_pool) -> global average pool
// (N, 512) -> [mean centring: x - running_mean] -> dropout -> linear.
void emit_vgg16(OnnxGraph& g, const models::VGG16& model, std::string h, const std::string& logits,
                const std::string& p, const std::string& source) {
  Layers layers(model, source);
  const std::vector<std::string>& names = models::VGG16::conv_layer_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0 && models::VGG16::block_of(names[i]) != models::VGG16::block_of(names[i - 1]))
      h = max_pool_2x2(
          g, h, p + "block" + std::to_string(models::VGG16::block_of(names[i - 1])) + "_pool");
    h = conv(g, layers.get<nn::Conv2d>(names[i]), h, p + names[i]);
    h = g.node("Relu", {h}, p + names[i] + "_relu");
  }
  h = max_pool_2x2(g, h, p + "block5_pool");
  h = global_avg_pool(g, h, p + "head_");  // (N, 512)
  if (model.config().center_head) {
    // MeanCenter in evaluation mode: y = x - running_mean, (N, 512) - (512) broadcast.
    const auto& center = layers.get<nn::MeanCenter>("head_center");
    h = g.node("Sub", {h, g.weight(p + "head_center.running_mean", center.running_mean)},
               p + "head_center");
  }
  layers.skip_dropout("head_dropout");
  linear(g, layers.get<nn::Linear>("head_fc"), h, p + "head_fc", logits);
  layers.finish();
}

}  // namespace

void emit_network(OnnxGraph& g, const nn::Module& module, const std::string& x,
                  const std::string& logits, const std::string& prefix, const std::string& source) {
  BUSI_CHECK(!module.is_training(), source,
             ": the network is in training mode; export needs evaluation mode");
  if (const auto* simple = dynamic_cast<const models::SimpleCNN*>(&module)) {
    emit_simple_cnn(g, *simple, x, logits, prefix, source);
  } else if (const auto* vgg = dynamic_cast<const models::VGG16*>(&module)) {
    emit_vgg16(g, *vgg, x, logits, prefix, source);
  } else {
    throw Error(source + ": the ONNX exporter knows SimpleCNN and VGG16, not " +
                class_name(typeid(module)));
  }
}

}  // namespace busi::tools
