// SimpleCNN and VGG16: layer names, parameter counts, forward/backward shapes at 224 and 128 px,
// freezing by block, stopping the forward pass after a given layer.
#include <doctest/doctest.h>

#include <algorithm>

#include "engine/autograd.h"
#include "models/simple_cnn.h"
#include "models/vgg16.h"
#include "tests/gradcheck.h"

using namespace busi;
using namespace busi::models;

TEST_CASE("SimpleCNN: parameter count and shapes") {
  SimpleCNN net;
  // 4 convs without bias (1*32 + 32*64 + 64*128 + 128*256) * 9, 4 batch norms 2 * (32+64+128+256),
  // linear 256 * 3 + 3.
  CHECK(net.num_parameters() == 389091);
  CHECK(net.last_conv_name() == "block4_conv");
  for (int64_t px : {224, 128}) {
    Tensor x = test::random_tensor({2, 1, px, px}, 1);
    Tensor f = net.forward_features(x);
    CHECK(f.shape() == Shape{2, 256, px / 8, px / 8});
    Tensor logits = net.forward_head(f);
    CHECK(logits.shape() == Shape{2, 3});
    sum(logits).backward();
    for (const NamedTensor& p : net.named_parameters()) {
      INFO(p.name);
      CHECK(p.tensor.grad().defined());
    }
    for (Tensor p : net.parameters()) p.zero_grad();
  }
  CHECK(simple_cnn_flops({}, 224, 224) == 1416168960);
  CHECK_THROWS_WITH_AS(net(Tensor::zeros({1, 3, 64, 64})),
                       doctest::Contains("SimpleCNN: expected input (N, 1, H, W)"), Error);
}

TEST_CASE("VGG16: names, conv parameters, freezing, shapes") {
  VGG16 net;
  const auto& names = VGG16::conv_layer_names();
  REQUIRE(names.size() == 13);
  CHECK(names.front() == "block1_conv1");
  CHECK(names.back() == "block5_conv3");
  int64_t conv_params = 0;
  for (const std::string& n : names) {
    auto conv = net.conv(n);
    conv_params += conv->weight.numel() + conv->bias.numel();
  }
  CHECK(conv_params == kVGG16ConvParameters);
  CHECK(net.num_parameters() == kVGG16ConvParameters + 512 * 3 + 3);
  CHECK(net.state_dict()[0].name == "block1_conv1.weight");

  net.freeze_until("block5");
  CHECK(net.num_parameters(true) == 3 * (512 * 512 * 9 + 512) + 512 * 3 + 3);
  // "block4": blocks 1-3 frozen, blocks 4 and 5 and the head trainable.
  net.freeze_until("block4");
  for (const std::string& n : names) {
    INFO(n);
    const bool trainable = n[5] >= '4';  // "block4_conv1"[5] is the block's digit
    CHECK(net.conv(n)->weight.requires_grad() == trainable);
    CHECK(net.conv(n)->bias.requires_grad() == trainable);
  }
  CHECK(net.head_fc()->weight.requires_grad());
  CHECK(net.head_fc()->bias.requires_grad());
  const int64_t block4 = (256 * 512 * 9 + 512) + 2 * (512 * 512 * 9 + 512);
  CHECK(net.num_parameters(true) == block4 + 3 * (512 * 512 * 9 + 512) + 512 * 3 + 3);
  net.freeze_until("head");
  CHECK(net.num_parameters(true) == 512 * 3 + 3);
  net.freeze_until("block1");
  CHECK(net.num_parameters(true) == net.num_parameters());
  CHECK_THROWS_WITH_AS(net.freeze_until("block6"), doctest::Contains("expected block1"), Error);

  // forward_until stops after a layer's ReLU; at block5_conv3 it is forward_features.
  {
    NoGradGuard no_grad;
    const Tensor x = test::random_tensor({1, 3, 32, 32}, 3);
    CHECK(net.forward_until(x, "block1_conv2").shape() == Shape{1, 64, 32, 32});
    CHECK(net.forward_until(x, "block3_conv1").shape() == Shape{1, 256, 8, 8});
    CHECK(net.forward_until(x, "block5_conv3").to_vector() == net.forward_features(x).to_vector());
    // Split anywhere, the two halves give forward_features (the frozen-prefix cache's promise).
    const std::vector<float> whole = net.forward_features(x).to_vector();
    for (size_t k : {size_t(0), size_t(2), size_t(4), size_t(5), size_t(7), size_t(13)})
      CHECK(net.forward_layers(net.forward_layers(x, 0, k), k, 13).to_vector() == whole);
    CHECK_THROWS_WITH_AS(net.forward_layers(x, 3, 14), doctest::Contains("range [3, 14)"), Error);
    const std::vector<float> r = net.forward_until(x, "block2_conv1").to_vector();
    CHECK(std::all_of(r.begin(), r.end(), [](float v) { return v >= 0; }));  // after the ReLU
    CHECK_THROWS_WITH_AS(net.forward_until(x, "block2_conv3"),
                         doctest::Contains("no conv layer named 'block2_conv3'"), Error);
  }

  net.freeze_until("block5");
  for (int64_t px : {128, 224}) {
    Tensor x = test::random_tensor({1, 3, px, px}, 2);
    Tensor f = net.forward_features(x);
    CHECK(f.shape() == Shape{1, 512, px / 16, px / 16});
    Tensor logits = net.forward_head(f);
    CHECK(logits.shape() == Shape{1, 3});
    sum(logits).backward();
    CHECK(net.conv("block5_conv3")->weight.grad().defined());
    CHECK_FALSE(net.conv("block4_conv3")->weight.grad().defined());
    for (Tensor p : net.parameters()) p.zero_grad();
  }
}

TEST_CASE("VGG16 with center_head: a buffer, no parameter, logits shifted by -W r") {
  VGG16Config on_config;
  on_config.center_head = true;
  on_config.dropout = 0.0f;
  VGG16Config off_config = on_config;
  off_config.center_head = false;
  VGG16 on(on_config), off(off_config);  // the same seed: the same weights
  CHECK(on.num_parameters() == off.num_parameters());
  const StateDict buffers = on.named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].name == "head_center.running_mean");
  CHECK(off.named_buffers().empty());  // checkpoints without centring keep their tensor list

  NoGradGuard no_grad;
  const Tensor f = test::random_tensor({4, 512, 2, 2}, 5, 0.0f, 2.0f);  // ReLU features
  // Training: the centred features average to 0 over the batch, so do the logits minus the bias.
  const std::vector<float> train_logits = on.forward_head(f).to_vector();
  const std::vector<float> bias = on.head_fc()->bias.to_vector();
  for (size_t k = 0; k < 3; ++k) {
    double mean = 0.0;
    for (size_t i = 0; i < 4; ++i) mean += train_logits[i * 3 + k] / 4.0;
    CHECK(mean == doctest::Approx(bias[k]).epsilon(1e-4));
  }
  // Evaluation: logits = W (x - r) + b = off's logits - W r.
  on.eval();
  off.eval();
  const Tensor r = on.named_buffers()[0].tensor.clone();
  const std::vector<float> shift = linear(r.view({1, 512}), on.head_fc()->weight).to_vector();
  const std::vector<float> got = on.forward_head(f).to_vector();
  const std::vector<float> plain = off.forward_head(f).to_vector();
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(plain[i] - shift[i % 3]).epsilon(1e-4));
  // The head after the pooling (what runs on cached pooled features) centres too.
  CHECK(on.forward_pooled(global_avg_pool2d(max_pool2d(f, 2))).to_vector() == got);
}
