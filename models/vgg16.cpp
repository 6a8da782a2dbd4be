// VGG16 layers, forward pass and block freezing (see vgg16.h).
#include "models/vgg16.h"

#include <algorithm>

namespace busi::models {

namespace {
// Channels of each block and its number of conv layers: the "D" configuration of the paper.
struct BlockSpec {
  int64_t channels;
  int convs;
};
constexpr BlockSpec kBlocks[5] = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};
}  // namespace

const std::vector<std::string>& VGG16::conv_layer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (int b = 0; b < 5; ++b)
      for (int c = 1; c <= kBlocks[b].convs; ++c)
        n.push_back("block" + std::to_string(b + 1) + "_conv" + std::to_string(c));
    return n;
  }();
  return names;
}

VGG16::VGG16(const VGG16Config& config) : config_(config) {
  BUSI_CHECK(config.num_classes >= 2, "VGG16: need at least 2 classes, got ", config.num_classes);
  Generator gen(config.seed);
  int64_t in = 3;
  size_t i = 0;
  for (const BlockSpec& block : kBlocks) {
    for (int c = 0; c < block.convs; ++c, ++i) {
      auto conv = std::make_shared<nn::Conv2d>(in, block.channels, 3, 1, 1, true, gen);
      register_module(conv_layer_names()[i], conv);
      convs_.push_back(conv);
      in = block.channels;
    }
  }
  if (config.center_head) {
    center_ = std::make_shared<nn::MeanCenter>(512);
    register_module("head_center", center_);
  }
  dropout_ = std::make_shared<nn::Dropout>(config.dropout, config.seed + 1);
  fc_ = std::make_shared<nn::Linear>(512, config.num_classes, true, gen);
  register_module("head_dropout", dropout_);
  register_module("head_fc", fc_);
}

Tensor VGG16::forward_until(const Tensor& x, const std::string& conv_name) {
  BUSI_CHECK(x.dim() == 4 && x.size(1) == 3, "VGG16: expected input (N, 3, H, W), got ",
             shape_str(x.shape()));
  BUSI_CHECK(x.size(2) >= 32 && x.size(3) >= 32, "VGG16: input ", shape_str(x.shape()),
             " is smaller than 32x32 (five 2x2 pools need at least 32 pixels)");
  const auto& names = conv_layer_names();
  const auto found = std::find(names.begin(), names.end(), conv_name);
  BUSI_CHECK(found != names.end(), "VGG16: no conv layer named '", conv_name, "'");
  return forward_layers(x, 0, static_cast<size_t>(found - names.begin()) + 1);
}

// The previous block's 2x2 pool comes before a layer that opens a block.
Tensor VGG16::conv_input(const Tensor& h, size_t i) const {
  const auto& names = conv_layer_names();
  const bool opens_block = i > 0 && block_of(names[i]) != block_of(names[i - 1]);
  return opens_block ? max_pool2d(h, 2) : h;
}

Tensor VGG16::forward_layers(const Tensor& x, size_t begin, size_t end) {
  BUSI_CHECK(begin <= end && end <= convs_.size(), "VGG16::forward_layers: range [", begin, ", ",
             end, ") is not within the 13 conv layers");
  Tensor h = x;
  for (size_t i = begin; i < end; ++i) h = convs_[i]->forward_relu(conv_input(h, i));
  return h;
}

Tensor VGG16::conv_preactivation(const Tensor& h, size_t i) {
  BUSI_CHECK(i < convs_.size(), "VGG16::conv_preactivation: no conv layer ", i, " of 13");
  return convs_[i]->forward(conv_input(h, i));
}

Tensor VGG16::forward_head(const Tensor& features) {
  return forward_pooled(global_avg_pool2d(max_pool2d(features, 2)));  // block5_pool, (N, 512)
}

Tensor VGG16::forward_pooled(const Tensor& pooled) {
  const Tensor h = center_ ? center_->forward(pooled) : pooled;  // (N, 512), mean 0 over the batch
  return fc_->forward(dropout_->forward(h));
}

void VGG16::freeze_until(const std::string& block) {
  const bool all = block == "head";
  int until = 0;  // blocks numbered below `until` are frozen
  if (all) {
    until = 6;
  } else {
    BUSI_CHECK(block.size() == 6, "VGG16::freeze_until: expected block1 ... block5 or head, got '",
               block, "'");
    until = block_of(block);
  }
  for (size_t i = 0; i < convs_.size(); ++i)
    convs_[i]->set_requires_grad(block_of(conv_layer_names()[i]) >= until);
}

int VGG16::block_of(const std::string& name) {
  BUSI_CHECK(name.size() >= 6 && name.rfind("block", 0) == 0 && name[5] >= '1' && name[5] <= '5',
             "VGG16: expected block1 ... block5 (or a conv layer of one), got '", name, "'");
  return name[5] - '0';
}

std::shared_ptr<nn::Conv2d> VGG16::conv(const std::string& name) const {
  const auto& names = conv_layer_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return convs_[i];
  throw Error("VGG16: no conv layer named '" + name + "'");
}

}  // namespace busi::models
