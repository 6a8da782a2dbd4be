// batch_norm2d: double-precision gradient checks of the training and eval kernels, the running
// statistics against a hand computation, eval mode, autograd wiring in float, argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <tuple>

#include "kernels/cpu/batchnorm.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// Shapes (N, C, HW) for the kernel checks: the smallest training batch (M = 2), N = 1 with
// several pixels, C = 1, odd sizes, and (N, C) features (HW = 1).
const std::vector<std::tuple<int64_t, int64_t, int64_t>> kShapes = {
    {2, 1, 1}, {1, 3, 5}, {3, 4, 7}, {5, 2, 1}, {4, 1, 9}};

constexpr double kEps = 1e-5;

}  // namespace

TEST_CASE("batch norm training gradients, double precision") {
  for (auto [N, C, HW] : kShapes) {
    INFO("N=" << N << " C=" << C << " HW=" << HW);
    auto x = test::random_doubles(N * C * HW, 1, -2.0, 2.0);
    auto gamma = test::random_doubles(C, 2, 0.5, 1.5);
    auto beta = test::random_doubles(C, 3);
    const auto w = test::random_doubles(N * C * HW, 4);  // dL/dy of L = sum w y
    std::vector<double> y(N * C * HW), mean(C), invstd(C), running_mean(C), running_var(C);
    auto loss = [&] {
      cpu::batch_norm_forward_train<double>(N, C, HW, x.data(), gamma.data(), beta.data(), kEps,
                                            0.1, y.data(), mean.data(), invstd.data(),
                                            running_mean.data(), running_var.data());
      return test::weighted_sum(y, w);
    };
    loss();
    std::vector<double> dx(N * C * HW), dgamma(C), dbeta(C);
    cpu::batch_norm_backward_train<double>(N, C, HW, x.data(), gamma.data(), mean.data(),
                                           invstd.data(), w.data(), dx.data(), dgamma.data(),
                                           dbeta.data());
    // Null outputs are skipped without changing the others.
    std::vector<double> dx_alone(N * C * HW), dgamma_alone(C);
    cpu::batch_norm_backward_train<double>(N, C, HW, x.data(), gamma.data(), mean.data(),
                                           invstd.data(), w.data(), dx_alone.data(), nullptr,
                                           nullptr);
    cpu::batch_norm_backward_train<double>(N, C, HW, x.data(), gamma.data(), mean.data(),
                                           invstd.data(), w.data(), nullptr, dgamma_alone.data(),
                                           nullptr);
    CHECK(dx_alone == dx);
    CHECK(dgamma_alone == dgamma);
    test::expect_gradient_matches("batch norm train dx", x, loss, dx);
    test::expect_gradient_matches("batch norm train dgamma", gamma, loss, dgamma);
    test::expect_gradient_matches("batch norm train dbeta", beta, loss, dbeta);
  }
}

TEST_CASE("batch norm eval gradients, double precision") {
  // Eval mode also works for a single value per channel, so (1, C, 1) is included.
  auto shapes = kShapes;
  shapes.emplace_back(1, 3, 1);
  for (auto [N, C, HW] : shapes) {
    INFO("N=" << N << " C=" << C << " HW=" << HW);
    auto x = test::random_doubles(N * C * HW, 5, -2.0, 2.0);
    auto gamma = test::random_doubles(C, 6, 0.5, 1.5);
    auto beta = test::random_doubles(C, 7);
    const auto running_mean = test::random_doubles(C, 8);
    const auto running_var = test::random_doubles(C, 9, 0.5, 2.0);
    const auto w = test::random_doubles(N * C * HW, 10);
    std::vector<double> y(N * C * HW);
    auto loss = [&] {
      cpu::batch_norm_forward_eval<double>(N, C, HW, x.data(), gamma.data(), beta.data(),
                                           running_mean.data(), running_var.data(), kEps, y.data());
      return test::weighted_sum(y, w);
    };
    std::vector<double> dx(N * C * HW), dgamma(C), dbeta(C);
    cpu::batch_norm_backward_eval<double>(N, C, HW, x.data(), gamma.data(), running_mean.data(),
                                          running_var.data(), kEps, w.data(), dx.data(),
                                          dgamma.data(), dbeta.data());
    test::expect_gradient_matches("batch norm eval dx", x, loss, dx);
    test::expect_gradient_matches("batch norm eval dgamma", gamma, loss, dgamma);
    test::expect_gradient_matches("batch norm eval dbeta", beta, loss, dbeta);
  }
}

TEST_CASE("batch norm training output and running statistics against a hand computation") {
  // x (N=2, C=2, H=1, W=2): channel 0 holds {1, 2, 3, 4}, channel 1 holds {10, 10, 10, 14}.
  //   channel 0: mean 2.5, biased var 1.25, unbiased var 5/3
  //   channel 1: mean 11,  biased var 3,    unbiased var 4
  Tensor x = Tensor::from_vector({1, 2, 10, 10, 3, 4, 10, 14}, {2, 2, 1, 2});
  Tensor gamma = Tensor::from_vector({1, 2}, {2});
  Tensor beta = Tensor::from_vector({0, -1}, {2});
  Tensor running_mean = Tensor::from_vector({0, 1}, {2});
  Tensor running_var = Tensor::from_vector({1, 2}, {2});
  const Tensor y = batch_norm2d(x, gamma, beta, running_mean, running_var, true, 0.1f, 1e-5f);
  // r = 0.9 r + 0.1 stat: mean 0.25 and 2.0; var 0.9 + 1/6 and 1.8 + 0.4 (unbiased; the biased
  // variance would give 1.025 and 2.1).
  const auto rm = running_mean.to_vector(), rv = running_var.to_vector();
  CHECK(rm[0] == doctest::Approx(0.25));
  CHECK(rm[1] == doctest::Approx(2.0));
  CHECK(rv[0] == doctest::Approx(0.9 + 1.0 / 6.0));
  CHECK(rv[1] == doctest::Approx(2.2));
  // y = gamma (x - mean) / sqrt(biased var + eps) + beta.
  const double mean[2] = {2.5, 11.0}, var[2] = {1.25, 3.0}, g[2] = {1, 2}, b[2] = {0, -1};
  const auto xv = x.to_vector(), yv = y.to_vector();
  for (int i = 0; i < 8; ++i) {
    const int c = (i / 2) % 2;  // element i = (n C + c) HW + hw with C = HW = 2
    const double expected = g[c] * (xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5) + b[c];
    CHECK(yv[i] == doctest::Approx(expected).epsilon(1e-5));
  }
  // The running buffers are plain tensors, not part of any graph.
  CHECK_FALSE(running_mean.requires_grad());
  CHECK_FALSE(running_var.grad_fn());
}

TEST_CASE("batch norm eval mode uses the running statistics and leaves them alone") {
  Tensor gamma = Tensor::from_vector({2, 1}, {2});
  Tensor beta = Tensor::from_vector({0, 3}, {2});
  Tensor running_mean = Tensor::from_vector({0.5f, -1}, {2});
  Tensor running_var = Tensor::from_vector({4, 0.25f}, {2});
  // N = 1, (N, C) input: too small for training, fine for eval.
  Tensor x = Tensor::from_vector({1.5f, 0}, {1, 2});
  const auto y = batch_norm2d(x, gamma, beta, running_mean, running_var, false).to_vector();
  CHECK(y[0] == doctest::Approx(2 * (1.5 - 0.5) / std::sqrt(4 + 1e-5)));
  CHECK(y[1] == doctest::Approx(1 * (0 + 1) / std::sqrt(0.25 + 1e-5) + 3));
  CHECK(running_mean.to_vector() == std::vector<float>{0.5f, -1});
  CHECK(running_var.to_vector() == std::vector<float>{4, 0.25f});

  // With a batch whose own statistics differ from the running ones, eval must not use them:
  // every element follows the running-statistics formula.
  Tensor batch = test::random_tensor({4, 2, 3, 3}, 30, 5.0f, 9.0f);
  const auto xb = batch.to_vector();
  const auto yb = batch_norm2d(batch, gamma, beta, running_mean, running_var, false).to_vector();
  const double rm[2] = {0.5, -1}, rv[2] = {4, 0.25}, g[2] = {2, 1}, b[2] = {0, 3};
  for (size_t i = 0; i < xb.size(); ++i) {
    const size_t c = (i / 9) % 2;
    CHECK(yb[i] ==
          doctest::Approx(g[c] * (xb[i] - rm[c]) / std::sqrt(rv[c] + 1e-5) + b[c]).epsilon(1e-5));
  }
}

TEST_CASE("batch norm eval backward: gradient flows, with the statistics of its forward") {
  Tensor gamma = Tensor::from_vector({2, -1, 0.5f}, {3});
  Tensor beta = Tensor::zeros({3});
  Tensor running_mean = Tensor::zeros({3});
  Tensor running_var = Tensor::from_vector({4, 1, 0.25f}, {3});
  Tensor x = test::random_tensor({2, 3, 2, 2}, 31);
  x.set_requires_grad(true);
  Tensor y = batch_norm2d(x, gamma, beta, running_mean, running_var, false);
  // A training step in between changes the running buffers in place ...
  batch_norm2d(test::random_tensor({2, 3, 2, 2}, 32, 3.0f, 9.0f), gamma, beta, running_mean,
               running_var, true);
  CHECK(running_var.to_vector()[0] != 4.0f);
  // ... but d(sum y)/dx = gamma / sqrt(r_var + eps) still uses the values the forward saw.
  sum(y).backward();
  const auto dx = x.grad().to_vector();
  const double expected[3] = {2 / std::sqrt(4 + 1e-5), -1 / std::sqrt(1 + 1e-5),
                              0.5 / std::sqrt(0.25 + 1e-5)};
  for (size_t i = 0; i < dx.size(); ++i)
    CHECK(dx[i] == doctest::Approx(expected[(i / 4) % 3]).epsilon(1e-6));
  // gamma and beta did not ask for gradients, so none were made.
  CHECK_FALSE(gamma.grad().defined());
  CHECK_FALSE(beta.grad().defined());
}

TEST_CASE("batch norm through autograd (float)") {
  Tensor running_mean = Tensor::zeros({2}), running_var = Tensor::ones({2});
  for (const Shape& shape : {Shape{3, 2, 2, 2}, Shape{6, 2}}) {
    const Tensor w = test::random_tensor(shape, 40);  // L = sum w y
    for (const bool training : {true, false}) {
      INFO("shape " << shape_str(shape) << " training " << training);
      test::expect_autograd_matches_fd(
          "batch_norm2d",
          {test::random_tensor(shape, 41), test::random_tensor({2}, 42, 0.5f, 1.5f),
           test::random_tensor({2}, 43)},
          [&](std::vector<Tensor>& in) {
            return sum(batch_norm2d(in[0], in[1], in[2], running_mean, running_var, training) * w);
          });
    }
  }
  // Only the inputs that need a gradient get one: frozen gamma stays without.
  Tensor x = test::random_tensor({4, 2}, 44), gamma = Tensor::ones({2}), beta = Tensor::zeros({2});
  x.set_requires_grad(true);
  beta.set_requires_grad(true);
  sum(batch_norm2d(x, gamma, beta, running_mean, running_var, true) *
      test::random_tensor({4, 2}, 45))
      .backward();
  CHECK(x.grad().defined());
  CHECK(beta.grad().defined());
  CHECK_FALSE(gamma.grad().defined());
}

TEST_CASE("batch norm argument errors") {
  Tensor gamma = Tensor::ones({3}), beta = Tensor::zeros({3});
  Tensor running_mean = Tensor::zeros({3}), running_var = Tensor::ones({3});
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 3, 4}), gamma, beta, running_mean, running_var, true),
      doctest::Contains("batch_norm2d: input (2, 3, 4) must be (N, C, H, W) or (N, C)"), Error);
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 4}), gamma, beta, running_mean, running_var, true),
      doctest::Contains("batch_norm2d: gamma (3,) does not match the 4 channels of input (2, 4)"),
      Error);
  Tensor short_var = Tensor::ones({2});
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 3}), gamma, beta, running_mean, short_var, false),
      doctest::Contains("batch_norm2d: running_var (2,) does not match the 3 channels"), Error);
  Tensor undefined;
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 3}), gamma, beta, undefined, running_var, true),
      doctest::Contains("batch_norm2d: argument 'running_mean' is an undefined tensor"), Error);
  for (const Shape& one_value : {Shape{1, 3}, Shape{1, 3, 1, 1}}) {
    CHECK_THROWS_WITH_AS(
        batch_norm2d(Tensor::zeros(one_value), gamma, beta, running_mean, running_var, true),
        doctest::Contains("batch_norm2d: training needs more than one value per channel"), Error);
  }
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 3}), gamma, beta, running_mean, running_var, true, 1.5f),
      doctest::Contains("batch_norm2d: momentum 1.5 is outside [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(
      batch_norm2d(Tensor::zeros({2, 3}), gamma, beta, running_mean, running_var, true, 0.1f, 0.0f),
      doctest::Contains("batch_norm2d: eps 0 must be positive"), Error);
  // A refused call leaves the running statistics untouched.
  CHECK(running_var.to_vector() == std::vector<float>{1, 1, 1});
}
