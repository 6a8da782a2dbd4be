// SimpleCNN: a small CNN trained from scratch on ultrasound images. Four blocks of
// conv3x3 -> batch norm -> ReLU -> 2x2 max-pool (width, 2w, 4w, 8w channels), then global
// average pooling, dropout and a linear layer to the classes. See models/README.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"

namespace busi::models {

struct SimpleCNNConfig {
  int64_t in_channels = 1;  // BUSI is grey: one channel
  int64_t num_classes = 3;
  int64_t width = 32;  // channels of the first block; block k has width * 2^k
  int64_t blocks = 4;
  float dropout = 0.3f;
  uint64_t seed = 0;  // initial weights and dropout masks
};

class SimpleCNN : public nn::Module {
 public:
  static constexpr const char* kModelName = "simple_cnn";
  explicit SimpleCNN(const SimpleCNNConfig& config = {});

  Tensor forward(const Tensor& x) override { return forward_head(forward_features(x)); }
  // Split at the last convolution's ReLU output (N, 8w, H/8, W/8), the layer Grad-CAM explains:
  // logits = forward_head(forward_features(x)).
  Tensor forward_features(const Tensor& x);
  Tensor forward_head(const Tensor& features);
  // Name of the layer forward_features ends at ("block4_conv").
  std::string last_conv_name() const;

  const SimpleCNNConfig& config() const { return config_; }

 private:
  SimpleCNNConfig config_;
  struct Block {
    std::shared_ptr<nn::Conv2d> conv;
    std::shared_ptr<nn::BatchNorm2d> bn;
  };
  std::vector<Block> blocks_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> fc_;
};

// Multiply-accumulates x 2 of one forward pass for a (C, H, W) image: the "FLOPs per image".
int64_t simple_cnn_flops(const SimpleCNNConfig& config, int64_t height, int64_t width);

}  // namespace busi::models
