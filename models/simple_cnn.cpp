// SimpleCNN layers and forward pass (see simple_cnn.h).
#include "models/simple_cnn.h"

namespace busi::models {

SimpleCNN::SimpleCNN(const SimpleCNNConfig& config) : config_(config) {
  BUSI_CHECK(
      config.blocks >= 1 && config.width >= 1 && config.in_channels >= 1 && config.num_classes >= 2,
      "SimpleCNN: invalid configuration (blocks ", config.blocks, ", width ", config.width,
      ", in_channels ", config.in_channels, ", classes ", config.num_classes, ")");
  Generator gen(config.seed);
  int64_t in = config.in_channels, out = config.width;
  for (int64_t b = 1; b <= config.blocks; ++b, in = out, out *= 2) {
    const std::string prefix = "block" + std::to_string(b);
    // No conv bias: the batch norm right after subtracts the mean, which would cancel it.
    Block block{std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, false, gen),
                std::make_shared<nn::BatchNorm2d>(out)};
    register_module(prefix + "_conv", block.conv);
    register_module(prefix + "_bn", block.bn);
    blocks_.push_back(block);
  }
  dropout_ = std::make_shared<nn::Dropout>(config.dropout, config.seed + 1);
  fc_ = std::make_shared<nn::Linear>(in, config.num_classes, true, gen);
  register_module("dropout", dropout_);
  register_module("fc", fc_);
}

Tensor SimpleCNN::forward_features(const Tensor& x) {
  BUSI_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels, "SimpleCNN: expected input (N, ",
             config_.in_channels, ", H, W), got ", shape_str(x.shape()));
  Tensor h = x;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    if (b > 0) h = max_pool2d(h, 2);  // each block but the first starts by halving H and W
    h = relu(blocks_[b].bn->forward(blocks_[b].conv->forward(h)));
  }
  return h;  // (N, 8w, H/8, W/8) for four blocks
}

Tensor SimpleCNN::forward_head(const Tensor& features) {
  Tensor h = max_pool2d(features, 2);
  h = global_avg_pool2d(h);  // (N, 8w)
  return fc_->forward(dropout_->forward(h));
}

std::string SimpleCNN::last_conv_name() const {
  return "block" + std::to_string(config_.blocks) + "_conv";
}

int64_t simple_cnn_flops(const SimpleCNNConfig& c, int64_t height, int64_t width) {
  int64_t flops = 0, in = c.in_channels, out = c.width, h = height, w = width;
  for (int64_t b = 0; b < c.blocks; ++b, in = out, out *= 2) {
    if (b > 0) h /= 2, w /= 2;
    flops += 2 * in * out * 9 * h * w;  // a 3x3 conv: 2 FLOPs per multiply-accumulate
  }
  return flops + 2 * in * c.num_classes;
}

}  // namespace busi::models
