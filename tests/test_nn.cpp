// Modules: names, state dict, modes, freezing, parameter counts, initialiser statistics.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <utility>

#include "engine/init.h"
#include "engine/nn.h"
#include "tests/gradcheck.h"

using namespace busi;
using namespace busi::nn;

TEST_CASE("named parameters and buffers follow registration order with dotted names") {
  Generator gen(1);
  Sequential net;
  net.add("block1_conv1", std::make_shared<Conv2d>(3, 4, 3, 1, 1, true, gen));
  net.add("bn1", std::make_shared<BatchNorm2d>(4));
  net.add(std::make_shared<ReLU>());
  net.add("fc", std::make_shared<Linear>(4, 2, true, gen));
  std::vector<std::string> names;
  for (const NamedTensor& t : net.state_dict()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"block1_conv1.weight", "block1_conv1.bias", "bn1.weight",
                                          "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                          "fc.weight", "fc.bias"});
  CHECK(net.named_buffers().size() == 2);
  CHECK(net.num_parameters() == 4 * 3 * 9 + 4 + 4 + 4 + 8 + 2);
  CHECK(net.children()[2].first == "2");  // unnamed children are numbered
}

TEST_CASE("state dict tensors share storage with the module") {
  Linear fc(3, 2);
  StateDict sd = fc.state_dict();
  sd[0].tensor.fill_(7.0f);
  CHECK(fc.weight.to_vector()[0] == 7.0f);
}

TEST_CASE("train / eval propagate; freezing stops gradients") {
  Sequential net;
  auto conv = std::make_shared<Conv2d>(1, 2, 3);
  auto fc = std::make_shared<Linear>(2, 2);
  net.add("conv", conv).add("pool", std::make_shared<GlobalAvgPool2d>()).add("fc", fc);
  net.eval();
  CHECK_FALSE(conv->is_training());
  net.train();
  CHECK(fc->is_training());
  conv->set_requires_grad(false);
  CHECK(net.num_parameters(true) == 6);
  Tensor x = test::random_tensor({2, 1, 5, 5}, 3);
  sum(net(x)).backward();
  CHECK_FALSE(conv->weight.grad().defined());
  CHECK(fc->weight.grad().defined());
}

TEST_CASE("initialisers: reproducible, with the documented variance") {
  Generator g1(42), g2(42);
  Tensor a = Tensor::empty({256, 128, 3, 3}), b = Tensor::empty({256, 128, 3, 3});
  init::kaiming_normal_(a, g1);
  init::kaiming_normal_(b, g2);
  CHECK(a.to_vector() == b.to_vector());
  // Sample variance of 295k draws is within 2 % of 2 / fan_in (its standard error is ~0.3 %).
  const std::vector<float> v = a.to_vector();
  double s2 = 0;
  for (float x : v) s2 += static_cast<double>(x) * x;
  const double expected = 2.0 / (128 * 9);
  CHECK(std::abs(s2 / v.size() / expected - 1.0) < 0.02);
  Tensor w = Tensor::empty({300, 200});
  init::xavier_uniform_(w, g1);
  const double bound = std::sqrt(6.0 / 500.0);
  double max_abs = 0;
  for (float x : w.to_vector()) max_abs = std::max(max_abs, std::abs(1.0 * x));
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.95 * bound);
}

// Mean and variance of a tensor's values, in double.
static std::pair<double, double> moments(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  double s = 0, s2 = 0;
  for (float x : v) s += x;
  const double m = s / v.size();
  for (float x : v) s2 += (x - m) * (x - m);
  return {m, s2 / v.size()};
}

TEST_CASE("every initialiser is reproducible from its seed and has the documented moments") {
  // 64 * 32 * 3 * 3 = 18432 draws: the standard error of a sample variance is about
  // sqrt(2 / n) = 1 % of it (normal) or less (uniform), so 5 % bounds cannot fail by chance.
  const Shape shape{64, 32, 3, 3};
  const double fan_in = 32 * 9, fan_out = 64 * 9;
  struct Case {
    const char* name;
    std::function<void(Tensor&, Generator&)> fill;
    double mean, variance;
  };
  const std::vector<Case> cases = {
      {"uniform_(-2, 4)", [](Tensor& t, Generator& g) { init::uniform_(t, -2.0f, 4.0f, g); }, 1.0,
       36.0 / 12.0},
      {"normal_(0.5, 3)", [](Tensor& t, Generator& g) { init::normal_(t, 0.5f, 3.0f, g); }, 0.5,
       9.0},
      {"kaiming_normal_", [](Tensor& t, Generator& g) { init::kaiming_normal_(t, g); }, 0.0,
       2.0 / fan_in},
      {"kaiming_uniform_", [](Tensor& t, Generator& g) { init::kaiming_uniform_(t, g); }, 0.0,
       2.0 / fan_in},
      {"xavier_uniform_", [](Tensor& t, Generator& g) { init::xavier_uniform_(t, g); }, 0.0,
       2.0 / (fan_in + fan_out)},
      {"xavier_normal_", [](Tensor& t, Generator& g) { init::xavier_normal_(t, g); }, 0.0,
       2.0 / (fan_in + fan_out)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Generator g1(7), g2(7), g3(8);
    Tensor a = Tensor::empty(shape), b = Tensor::empty(shape), other = Tensor::empty(shape);
    c.fill(a, g1);
    c.fill(b, g2);
    c.fill(other, g3);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(a.to_vector() != other.to_vector());
    const auto [m, var] = moments(a);
    CHECK(std::abs(m - c.mean) < 0.05 * std::sqrt(c.variance));
    CHECK(std::abs(var / c.variance - 1.0) < 0.05);
  }
}

TEST_CASE("BatchNorm2d, Dropout and MaxPool2d modules follow train / eval mode") {
  BatchNorm2d bn(2);
  bn.running_mean.copy_(Tensor::from_vector({1.0f, -1.0f}, {2}));
  bn.running_var.copy_(Tensor::from_vector({4.0f, 0.25f}, {2}));
  Tensor x = Tensor::full({3, 2, 2, 2}, 3.0f);
  bn.eval();
  // Eval: (x - running_mean) / sqrt(running_var + eps), gamma 1, beta 0.
  const std::vector<float> y = bn(x).to_vector();
  CHECK(y[0] == doctest::Approx((3.0 - 1.0) / std::sqrt(4.0 + 1e-5)));
  CHECK(y[4] == doctest::Approx((3.0 + 1.0) / std::sqrt(0.25 + 1e-5)));
  CHECK(bn.running_mean.to_vector() == std::vector<float>{1.0f, -1.0f});  // not updated
  bn.train();
  // Train: a constant batch normalises to 0 and moves the running mean towards 3.
  for (float v : bn(x).to_vector()) CHECK(v == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(bn.running_mean.to_vector()[0] == doctest::Approx(0.9 * 1.0 + 0.1 * 3.0));

  Dropout drop(0.5f, 3);
  Tensor ones = Tensor::ones({1000});
  drop.eval();
  CHECK(drop(ones).to_vector() == ones.to_vector());
  drop.train();
  int zeros = 0;
  for (float v : drop(ones).to_vector()) {
    CHECK((v == 0.0f || v == 2.0f));
    zeros += v == 0.0f;
  }
  CHECK(zeros > 400);
  CHECK(zeros < 600);

  MaxPool2d pool(2);
  CHECK(pool(Tensor::zeros({2, 3, 7, 8})).shape() == Shape{2, 3, 3, 4});
  MaxPool2d pool_strided(3, 2, 1);
  CHECK(pool_strided(Tensor::zeros({1, 1, 7, 7})).shape() == Shape{1, 1, 4, 4});
}

TEST_CASE("MeanCenter: batch mean out in training, the running mean at evaluation") {
  MeanCenter center(2, 0.5f);
  // Features (N = 3, C = 2): column means 2 and -1.
  const Tensor x = Tensor::from_vector({1.0f, 0.0f, 2.0f, -3.0f, 3.0f, 0.0f}, {3, 2});
  const std::vector<float> y = center(x).to_vector();
  const std::vector<float> want = {-1.0f, 1.0f, 0.0f, -2.0f, 1.0f, 1.0f};
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(want[i]));
  // r = (1 - 0.5) * 0 + 0.5 * batch mean.
  CHECK(center.running_mean.to_vector() == std::vector<float>{1.0f, -0.5f});
  CHECK(center.named_buffers()[0].name == "running_mean");
  CHECK(center.num_parameters() == 0);  // nothing learned: the next layer's bias shifts

  center.eval();
  const std::vector<float> e = center(x).to_vector();
  CHECK(e[0] == doctest::Approx(0.0));                                        // 1 - 1
  CHECK(e[3] == doctest::Approx(-2.5));                                       // -3 + 0.5
  CHECK(center.running_mean.to_vector() == std::vector<float>{1.0f, -0.5f});  // not updated

  // A training batch of one image is centred on the running mean and leaves it alone.
  center.train();
  const std::vector<float> one = center(Tensor::from_vector({4.0f, 4.0f}, {1, 2})).to_vector();
  CHECK(one == std::vector<float>{3.0f, 4.5f});
  CHECK(center.running_mean.to_vector() == std::vector<float>{1.0f, -0.5f});

  CHECK_THROWS_WITH_AS(center(Tensor::zeros({3, 5})), doctest::Contains("expected input (N, 2)"),
                       Error);
  CHECK_THROWS_WITH_AS(MeanCenter(0), doctest::Contains("invalid feature count"), Error);
}

TEST_CASE("MeanCenter: precise statistics replace the lagging running mean by the exact one") {
  MeanCenter center(2, 0.1f);
  center.eval();
  center.begin_estimate();
  // Rows of two batches, of different sizes: the exact mean weighs rows, not batches.
  center(Tensor::from_vector({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2}));
  center(Tensor::from_vector({8.0f, -6.0f}, {1, 2}));
  CHECK(center.running_mean.to_vector() == std::vector<float>{0.0f, 0.0f});  // not yet
  center.end_estimate();
  const std::vector<float> r = center.running_mean.to_vector();
  CHECK(r[0] == doctest::Approx(4.0));  // (1 + 3 + 8) / 3
  CHECK(r[1] == doctest::Approx(0.0));  // (2 + 4 - 6) / 3
  // Nothing seen: the running mean stays; no estimate open: an error.
  center.begin_estimate();
  center.end_estimate();
  CHECK(center.running_mean.to_vector()[0] == doctest::Approx(4.0));
  CHECK_THROWS_WITH_AS(center.end_estimate(), doctest::Contains("without begin_estimate"), Error);
}

TEST_CASE("BatchNorm2d: precise statistics pool every batch's, by the law of total variance") {
  // 10 images (N, C, H, W) = (10, 2, 3, 3) in batches of 4, 4 and 2.
  const Tensor all = test::random_tensor({10, 2, 3, 3}, 31, -1.0f, 3.0f);
  const std::vector<float> v = all.to_vector();
  BatchNorm2d bn(2, 0.1f);
  bn.weight.copy_(Tensor::from_vector({2.0f, 0.5f}, {2}));
  bn.eval();
  bn.begin_estimate();
  const int64_t starts[] = {0, 4, 8}, sizes[] = {4, 4, 2};
  for (int b = 0; b < 3; ++b) {
    const Tensor x = all.narrow0(starts[b], sizes[b]);
    // While estimating, a forward normalises with the batch's own statistics, as training does.
    Tensor m = Tensor::zeros({2}), r = Tensor::ones({2});
    const Tensor expected = batch_norm2d(x, bn.weight, bn.bias, m, r, true, 0.1f, bn.eps);
    CHECK(bn(x).to_vector() == expected.to_vector());
  }
  CHECK(bn.running_mean.to_vector() == std::vector<float>{0.0f, 0.0f});  // not yet
  bn.end_estimate();
  for (int c = 0; c < 2; ++c) {
    // Expected, in double: the pooled mean, and sum_b n_b (v_b + m_b^2) / N - mean^2 with each
    // batch's unbiased variance v_b (the kernel's), and the population variance it approximates.
    double pooled_sum = 0, pooled_square = 0, total = 0, total_square = 0;
    for (int b = 0; b < 3; ++b) {
      double s1 = 0, s2 = 0;
      const double count = sizes[b] * 9.0;
      for (int64_t i = starts[b]; i < starts[b] + sizes[b]; ++i)
        for (int k = 0; k < 9; ++k) {
          const double x = v[static_cast<size_t>((i * 2 + c) * 9 + k)];
          s1 += x;
          s2 += x * x;
        }
      const double mean_b = s1 / count, var_b = (s2 - count * mean_b * mean_b) / (count - 1);
      pooled_sum += sizes[b] * mean_b;
      pooled_square += sizes[b] * (var_b + mean_b * mean_b);
      total += s1;
      total_square += s2;
    }
    const double mean = pooled_sum / 10, var = pooled_square / 10 - mean * mean;
    const double population_var = total_square / 90 - (total / 90) * (total / 90);
    CHECK(bn.running_mean.to_vector()[c] == doctest::Approx(total / 90).epsilon(1e-5));
    CHECK(bn.running_var.to_vector()[c] == doctest::Approx(var).epsilon(1e-4));
    // Batches of 18 to 36 values: the unbiased factor moves it by under 6 %.
    CHECK(bn.running_var.to_vector()[c] == doctest::Approx(population_var).epsilon(0.06));
    CHECK(mean == doctest::Approx(total / 90));
  }
  // Evaluation now uses them; another estimate with nothing seen leaves them.
  const std::vector<float> kept = bn.running_var.to_vector();
  bn.begin_estimate();
  bn.end_estimate();
  CHECK(bn.running_var.to_vector() == kept);
  CHECK_THROWS_WITH_AS(bn.end_estimate(), doctest::Contains("without begin_estimate"), Error);
}

TEST_CASE("begin/end_precise_statistics reach every BatchNorm2d and MeanCenter of a model") {
  struct Net : Module {
    std::shared_ptr<BatchNorm2d> bn = std::make_shared<BatchNorm2d>(2);
    std::shared_ptr<MeanCenter> center = std::make_shared<MeanCenter>(2);
    Net() {
      register_module("bn", bn);
      register_module("center", center);
    }
    Tensor forward(const Tensor& x) override {
      return (*center)(global_avg_pool2d((*bn)(x)));  // (N, 2, H, W) -> (N, 2)
    }
  } net;
  net.bn->bias.copy_(Tensor::from_vector({1.0f, -1.0f}, {2}));
  net.eval();
  CHECK(begin_precise_statistics(net) == 2);
  net(test::random_tensor({3, 2, 4, 4}, 5, 1.0f, 2.0f));
  end_precise_statistics(net);
  CHECK(net.bn->running_mean.to_vector()[0] > 1.0f);  // the data's mean, about 1.5, not 0
  // The centre sees the batch-normalised features, whose mean is the batch norm's bias.
  CHECK(net.center->running_mean.to_vector()[0] == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(net.center->running_mean.to_vector()[1] == doctest::Approx(-1.0).epsilon(1e-5));
  CHECK_FALSE(net.is_training());  // the mode is the caller's
}

TEST_CASE("MeanCenter: the gradient is the upstream gradient minus its batch mean") {
  // dL/dx_ic = g_ic - (1/N) sum_j g_jc: checked against finite differences through autograd,
  // and against the formula on a weighted sum (L = sum w * y, so g = w).
  MeanCenter center(4);
  const Tensor w = test::random_tensor({5, 4}, 7);
  test::expect_autograd_matches_fd(
      "MeanCenter", {test::random_tensor({5, 4}, 8, -2.0f, 2.0f)},
      [&](std::vector<Tensor>& in) { return sum(mul(center(in[0]), w)); });
  Tensor x = test::random_tensor({5, 4}, 9);
  x.set_requires_grad(true);
  sum(mul(center(x), w)).backward();
  const std::vector<float> g = w.to_vector(), dx = x.grad().to_vector();
  for (int64_t c = 0; c < 4; ++c) {
    double mean = 0.0;
    for (int64_t i = 0; i < 5; ++i) mean += g[static_cast<size_t>(i * 4 + c)] / 5.0;
    for (int64_t i = 0; i < 5; ++i)
      CHECK(dx[static_cast<size_t>(i * 4 + c)] ==
            doctest::Approx(g[static_cast<size_t>(i * 4 + c)] - mean).epsilon(1e-5));
  }
}

TEST_CASE("Module::to the device a module is already on keeps its tensors") {
  Linear fc(2, 1);
  const TensorImpl* before = fc.weight.id();
  fc.to(Device::cpu());
  CHECK(fc.weight.id() == before);  // an optimiser built before to() still updates the weight
  CHECK(fc.weight.requires_grad());
}
