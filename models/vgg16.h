// VGG16 (Simonyan & Zisserman 2015): 13 conv3x3 layers (padding 1) with ReLU in five blocks,
// each block ending in a 2x2 max-pool, named block1_conv1 ... block5_conv3 as in Keras (the
// torchvision file's features.N are mapped to these names when loading). A new head for the
// classes: global average pooling -> [mean centring] -> dropout -> linear (models/README.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"

namespace busi::models {

struct VGG16Config {
  int64_t num_classes = 3;
  float dropout = 0.5f;
  uint64_t seed = 0;  // He initialisation of layers not loaded from a file, head, dropout
  // Mean-only batch normalisation of the 512 pooled features before the head (nn::MeanCenter,
  // module "head_center", buffer head_center.running_mean). Off: the head of the first releases,
  // whose checkpoints have no such buffer.
  bool center_head = false;
};

class VGG16 : public nn::Module {
 public:
  static constexpr const char* kModelName = "vgg16";
  explicit VGG16(const VGG16Config& config = {});

  Tensor forward(const Tensor& x) override { return forward_head(forward_features(x)); }
  // Up to block5_conv3's ReLU output (N, 512, H/16, W/16), the layer Grad-CAM explains.
  Tensor forward_features(const Tensor& x) { return forward_until(x, last_conv_name()); }
  // The same forward pass, stopped after the ReLU of conv layer `conv_name` (the pools of the
  // blocks before it included): forward_until(x, "block3_conv1") is (N, 256, H/4, W/4). For
  // checking the activations of a layer against a reference.
  Tensor forward_until(const Tensor& x, const std::string& conv_name);
  // Conv layers [begin, end) of the 13, each with its ReLU, and the 2x2 pool of the previous block
  // before a layer that opens a block: forward_layers(forward_layers(x, 0, k), k, 13) is
  // forward_features(x), so a frozen prefix [0, k) can be computed once and the rest trained.
  Tensor forward_layers(const Tensor& x, size_t begin, size_t end);
  // Conv layer i's output before its ReLU, from the output h of layers [0, i) (the block's pool
  // included): relu(conv_preactivation(forward_layers(x, 0, i), i)) is forward_layers(x, 0,
  // i + 1). For data-dependent initialisation (engine/lsuv.h).
  Tensor conv_preactivation(const Tensor& h, size_t i);
  // block5_pool -> global average pooling -> mean centring (center_head) -> dropout -> linear.
  Tensor forward_head(const Tensor& features);
  // The head after the pooling: pooled (N, 512) -> mean centring (center_head) -> dropout ->
  // linear. forward_head(f) is forward_pooled(global_avg_pool2d(max_pool2d(f, 2))).
  Tensor forward_pooled(const Tensor& pooled);
  std::string last_conv_name() const { return "block5_conv3"; }

  // The 13 conv layers' names in order, and the block number (1 to 5) of a conv layer or block
  // name: block_of("block3_conv2") and block_of("block3") are 3 (an error for other names).
  static const std::vector<std::string>& conv_layer_names();
  static int block_of(const std::string& name);
  // Freezes every conv layer of the blocks before `block` ("block4": blocks 1-3 frozen, 4-5 and
  // the head trainable); "head" freezes all 13 conv layers; "block1" freezes none.
  void freeze_until(const std::string& block);
  // The conv layers, by name (for loading, freezing, parameter groups).
  std::shared_ptr<nn::Conv2d> conv(const std::string& name) const;
  std::shared_ptr<nn::Linear> head_fc() const { return fc_; }
  std::shared_ptr<nn::MeanCenter> head_center() const { return center_; }  // null when off

  const VGG16Config& config() const { return config_; }

 private:
  // Layer i's input from the previous layer's output: pooled when layer i opens a block.
  Tensor conv_input(const Tensor& h, size_t i) const;

  VGG16Config config_;
  std::vector<std::shared_ptr<nn::Conv2d>> convs_;  // in order, block1_conv1 first
  std::shared_ptr<nn::MeanCenter> center_;          // null unless config.center_head
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> fc_;
};

// Number of parameters of the 13 conv layers: 14,714,688.
constexpr int64_t kVGG16ConvParameters = 14714688;

}  // namespace busi::models
