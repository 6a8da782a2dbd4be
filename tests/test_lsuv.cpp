// LSUV initialisation (engine/lsuv.h): after it every listed layer's output before its ReLU has
// unit standard deviation (and, per channel, mean 0) on the batch, layers not listed are left
// bit for bit, a constant output is an error; and VGG16's conv_preactivation, which it uses.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/lsuv.h"
#include "engine/nn.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "models/vgg16.h"

using namespace busi;

namespace {

Tensor random_tensor(const Shape& shape, Generator& gen, float scale = 1.0f, float shift = 0.0f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = shift + scale * static_cast<float>(gen.normal());
  return Tensor::from_vector(v, shape);
}

// Per-channel mean and standard deviation of a (N, C, H, W) tensor, in double.
void channel_stats(const Tensor& z, std::vector<double>& mean, std::vector<double>& std) {
  const std::vector<float> v = z.to_vector();
  const int64_t n = z.size(0), c = z.size(1), inner = z.numel() / (n * c);
  mean.assign(static_cast<size_t>(c), 0.0);
  std.assign(static_cast<size_t>(c), 0.0);
  for (int64_t k = 0; k < c; ++k) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        const double x = v[static_cast<size_t>((i * c + k) * inner + j)];
        s += x;
        q += x * x;
      }
    const double count = static_cast<double>(n * inner);
    mean[static_cast<size_t>(k)] = s / count;
    std[static_cast<size_t>(k)] = std::sqrt(q / count - (s / count) * (s / count));
  }
}

// Three conv layers with ReLU between, weights 5x too large and the input off-centre.
struct Stack {
  Generator gen{3};
  std::vector<std::shared_ptr<nn::Conv2d>> convs;
  Tensor x;
  Stack() {
    for (auto [in, out] : {std::pair{2, 4}, std::pair{4, 6}, std::pair{6, 3}}) {
      convs.push_back(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, gen));
      NoGradGuard no_grad;
      convs.back()->weight.copy_(mul(convs.back()->weight, Tensor::scalar(5.0f)));
    }
    x = random_tensor({8, 2, 10, 10}, gen, 2.0f, 1.5f);
  }
  // Layer i's output before its ReLU.
  Tensor preactivation(size_t i) {
    NoGradGuard no_grad;
    Tensor h = x;
    for (size_t k = 0; k < i; ++k) h = relu(convs[k]->forward(h));
    return convs[i]->forward(h);
  }
  std::vector<LsuvLayer> layers(const std::vector<size_t>& which) {
    std::vector<LsuvLayer> out;
    for (size_t i : which)
      out.push_back({"conv" + std::to_string(i), &convs[i]->weight, &convs[i]->bias,
                     [this, i] { return preactivation(i); }});
    return out;
  }
};

}  // namespace

TEST_CASE("LSUV per channel: every channel mean 0 and std 1 before the ReLU, in forward order") {
  Stack s;
  std::vector<double> mean, std;
  channel_stats(s.preactivation(2), mean, std);
  CHECK(std[0] > 3.0);  // far from 1 before
  const std::vector<LsuvLayerReport> reports = lsuv_init(s.layers({0, 1, 2}));
  REQUIRE(reports.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    channel_stats(s.preactivation(i), mean, std);
    for (size_t k = 0; k < mean.size(); ++k) {
      CHECK(std::abs(mean[k]) < 0.02);
      CHECK(std::abs(std[k] - 1.0) < 0.02);
    }
    CHECK(reports[i].iterations >= 1);
    CHECK(std::abs(reports[i].std_after - 1.0) < 0.05);
  }
  CHECK(reports[0].std_before > 3.0);
}

TEST_CASE("LSUV whole layer: one factor, output std 1; unlisted layers bit for bit") {
  Stack s;
  const std::vector<float> untouched = s.convs[1]->weight.to_vector();
  const std::vector<float> untouched_bias = s.convs[1]->bias.to_vector();
  const std::vector<float> bias_before = s.convs[0]->bias.to_vector();
  LsuvOptions options;
  options.mode = LsuvMode::WholeLayer;
  lsuv_init(s.layers({0, 2}), options);
  CHECK(s.convs[1]->weight.to_vector() == untouched);
  CHECK(s.convs[1]->bias.to_vector() == untouched_bias);
  for (size_t i : {size_t(0), size_t(2)}) {
    const std::vector<float> z = s.preactivation(i).to_vector();
    double sum = 0, squares = 0;
    for (float v : z) sum += v, squares += double(v) * v;
    const double m = sum / z.size();
    CHECK(std::sqrt(squares / z.size() - m * m) == doctest::Approx(1.0).epsilon(0.02));
  }
  // One factor for the whole layer: the ratio of any two rows of the weight is kept.
  CHECK(s.convs[0]->bias.to_vector() == bias_before);  // zero stays zero when only scaled
}

TEST_CASE("LSUV: a layer whose output is constant on the batch is an error naming it") {
  Generator gen(1);
  auto conv = std::make_shared<nn::Conv2d>(1, 2, 3, 1, 1, true, gen);
  conv->weight.zero_();
  const Tensor x = random_tensor({2, 1, 5, 5}, gen);
  std::vector<LsuvLayer> layers = {
      {"flat", &conv->weight, &conv->bias, [&] { return conv->forward(x); }}};
  CHECK_THROWS_WITH_AS(lsuv_init(layers), doctest::Contains("flat"), Error);
}

TEST_CASE("LSUV per channel: a channel constant on the batch is left as it was, not NaN") {
  Generator gen(4);
  auto conv = std::make_shared<nn::Conv2d>(2, 3, 3, 1, 1, true, gen);
  {
    NoGradGuard no_grad;  // channel 1: weights 0, bias 0.25, so its output is 0.25 everywhere
    std::vector<float> w = conv->weight.to_vector();
    std::fill(w.begin() + 18, w.begin() + 36, 0.0f);
    conv->weight.copy_(Tensor::from_vector(w, conv->weight.shape()));
    conv->bias.copy_(Tensor::from_vector({0.0f, 0.25f, 0.0f}, {3}));
  }
  const Tensor x = random_tensor({4, 2, 6, 6}, gen, 3.0f);
  std::vector<LsuvLayer> layers = {
      {"half_dead", &conv->weight, &conv->bias, [&] { return conv->forward(x); }}};
  const std::vector<LsuvLayerReport> reports = lsuv_init(layers);
  CHECK(reports.at(0).dead_channels == 1);
  for (const float v : conv->weight.to_vector()) CHECK(std::isfinite(v));
  const std::vector<float> bias = conv->bias.to_vector();
  CHECK(bias[1] == 0.25f);
  std::vector<double> mean, std;
  NoGradGuard no_grad;
  channel_stats(conv->forward(x), mean, std);
  for (size_t k : {size_t(0), size_t(2)}) {
    CHECK(std::abs(mean[k]) < 0.02);
    CHECK(std[k] == doctest::Approx(1.0).epsilon(0.02));
  }
}

TEST_CASE("VGG16 conv_preactivation: its ReLU is forward_layers one layer further") {
  models::VGG16Config config;
  config.seed = 5;
  models::VGG16 model(config);
  Generator gen(9);
  const Tensor x = random_tensor({2, 3, 32, 32}, gen);
  NoGradGuard no_grad;
  for (size_t i : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(12)}) {
    CAPTURE(i);  // 2 and 7 open a block: the pool comes first
    const Tensor h = model.forward_layers(x, 0, i);
    const std::vector<float> expected = model.forward_layers(x, 0, i + 1).to_vector();
    CHECK(relu(model.conv_preactivation(h, i)).to_vector() == expected);
  }
  CHECK_THROWS_AS(model.conv_preactivation(x, 13), Error);
}
