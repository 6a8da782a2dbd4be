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

TEST_CASE("Module::to the device a module is already on keeps its tensors") {
  Linear fc(2, 1);
  const TensorImpl* before = fc.weight.id();
  fc.to(Device::cpu());
  CHECK(fc.weight.id() == before);  // an optimiser built before to() still updates the weight
  CHECK(fc.weight.requires_grad());
}
