// Modules: names, state dict, modes, freezing, parameter counts, initialiser statistics.
#include <doctest/doctest.h>

#include <cmath>

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
  CHECK(names == std::vector<std::string>{"block1_conv1.weight", "block1_conv1.bias",
                                          "bn1.weight", "bn1.bias", "bn1.running_mean",
                                          "bn1.running_var", "fc.weight", "fc.bias"});
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
