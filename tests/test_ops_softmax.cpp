// softmax, log_softmax and cross_entropy: double-precision gradient checks of the kernels, a
// hand-computed loss, agreement between the ops, autograd wiring in float, argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <tuple>

#include "kernels/cpu/softmax.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// Shapes (N, K) for the kernel checks: a single element, one row, odd sizes, more rows.
const std::vector<std::tuple<int64_t, int64_t>> kShapes = {{1, 1}, {1, 5}, {4, 3}, {7, 10}};

std::vector<int64_t> random_labels(int64_t N, int64_t K, uint64_t seed) {
  Generator gen(seed);
  std::vector<int64_t> labels(N);
  for (int64_t& label : labels) label = gen.randint(K);
  return labels;
}

}  // namespace

TEST_CASE("softmax gradients, double precision") {
  for (auto [N, K] : kShapes) {
    auto x = test::random_doubles(N * K, 1, -2.0, 2.0);
    const auto w = test::random_doubles(N * K, 2);
    std::vector<double> p(N * K), dx(N * K);
    auto loss = [&] {
      cpu::softmax_forward<double>(N, K, x.data(), p.data());
      return test::weighted_sum(p, w);
    };
    loss();
    cpu::softmax_backward<double>(N, K, p.data(), w.data(), dx.data());
    test::expect_gradient_matches("softmax dx", x, loss, dx);
  }
}

TEST_CASE("log_softmax gradients, double precision") {
  for (auto [N, K] : kShapes) {
    auto x = test::random_doubles(N * K, 3, -2.0, 2.0);
    const auto w = test::random_doubles(N * K, 4);
    std::vector<double> y(N * K), dx(N * K);
    auto loss = [&] {
      cpu::log_softmax_forward<double>(N, K, x.data(), y.data());
      return test::weighted_sum(y, w);
    };
    loss();
    cpu::log_softmax_backward<double>(N, K, y.data(), w.data(), dx.data());
    test::expect_gradient_matches("log_softmax dx", x, loss, dx);
  }
}

TEST_CASE("cross-entropy gradients, double precision") {
  // Every combination of class weights and label smoothing; dloss != 1 checks its scaling.
  const double dloss = 1.7;
  for (auto [N, K] : {std::tuple<int64_t, int64_t>{1, 2}, {5, 3}, {8, 7}, {3, 1}}) {
    const auto labels = random_labels(N, K, 5);
    const auto weights = test::random_doubles(K, 6, 0.2, 2.0);
    for (const bool weighted : {false, true}) {
      for (const double smoothing : {0.0, 0.25}) {
        auto x = test::random_doubles(N * K, 7, -2.0, 2.0);
        const double* w = weighted ? weights.data() : nullptr;
        std::vector<double> probs(N * K), dx(N * K);
        double value = 0.0;
        auto loss = [&] {
          cpu::cross_entropy_forward<double>(N, K, x.data(), labels.data(), w, smoothing,
                                             probs.data(), &value);
          return dloss * value;
        };
        loss();
        cpu::cross_entropy_backward<double>(N, K, probs.data(), labels.data(), w, smoothing, dloss,
                                            dx.data());
        INFO("N=" << N << " K=" << K << " weighted=" << weighted << " smoothing=" << smoothing);
        test::expect_gradient_matches("cross_entropy dlogits", x, loss, dx);
      }
    }
  }
}

TEST_CASE("softmax and log_softmax forward values") {
  // Rows sum to 1, exp(log_softmax) = softmax, and huge logits neither overflow nor give NaN.
  Tensor x = Tensor::from_vector({1, 2, 3, 1000, 0, -1000}, {2, 3});
  const auto p = softmax(x).to_vector();
  const auto y = log_softmax(x).to_vector();
  CHECK(p[0] + p[1] + p[2] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(p[2] / p[1] == doctest::Approx(std::exp(1.0)).epsilon(1e-5));  // ratio e^(x2 - x1)
  for (int i = 0; i < 6; ++i) CHECK(std::exp(y[i]) == doctest::Approx(p[i]).epsilon(1e-6));
  CHECK(p[3] == 1.0f);
  CHECK(p[5] == 0.0f);
  CHECK(y[3] == 0.0f);
  CHECK(y[5] == -2000.0f);
}

TEST_CASE("cross-entropy of a 2x3 example against a hand computation") {
  // Logits rows (1, 2, 3) and (1, 0, -1), labels (2, 1). Both rows have the same log-sum-exp
  // offset: lse = max + s with s = log(1 + e^-1 + e^-2) = 0.40760596444438..., so
  //   -log p(row 0) = (2 + s, 1 + s, s),   -log p(row 1) = (s, 1 + s, 2 + s).
  const double s = std::log(1.0 + std::exp(-1.0) + std::exp(-2.0));
  CHECK(s == doctest::Approx(0.4076059644443804));
  Tensor logits = Tensor::from_vector({1, 2, 3, 1, 0, -1}, {2, 3});
  const std::vector<int64_t> labels = {2, 1};
  const std::vector<float> weights = {1, 2, 3};
  // Plain mean: (s + (1 + s)) / 2.
  CHECK(cross_entropy(logits, labels).item() == doctest::Approx(s + 0.5).epsilon(1e-6));
  // Weighted: (w2 s + w1 (1 + s)) / (w2 + w1) = (3 s + 2 + 2 s) / 5 = s + 0.4.
  CHECK(cross_entropy(logits, labels, weights).item() == doctest::Approx(s + 0.4).epsilon(1e-6));
  // Smoothing e = 0.3, K = 3: row loss = 0.7 (-log p_label) + 0.1 sum_k (-log p_k), and
  // sum_k (-log p_k) = 3 + 3 s in both rows: row 0 = s + 0.3, row 1 = 1 + s; mean s + 0.65.
  CHECK(cross_entropy(logits, labels, {}, 0.3f).item() == doctest::Approx(s + 0.65).epsilon(1e-6));
  // Both: row 0 = 0.7*3 s + 0.1 (1(2 + s) + 2(1 + s) + 3 s) = 2.7 s + 0.4,
  //       row 1 = 0.7*2 (1 + s) + 0.1 (1 s + 2(1 + s) + 3(2 + s)) = 2 s + 2.2,
  // divided by w2 + w1 = 5: 0.94 s + 0.52.
  CHECK(cross_entropy(logits, labels, weights, 0.3f).item() ==
        doctest::Approx(0.94 * s + 0.52).epsilon(1e-6));
  // The double kernel gives the same numbers to rounding.
  const std::vector<double> x = {1, 2, 3, 1, 0, -1}, w = {1, 2, 3};
  std::vector<double> probs(6);
  double loss = 0.0;
  cpu::cross_entropy_forward<double>(2, 3, x.data(), labels.data(), w.data(), 0.3, probs.data(),
                                     &loss);
  CHECK(std::abs(loss - (0.94 * s + 0.52)) < 1e-14);
}

TEST_CASE("unweighted cross-entropy equals -mean(log_softmax[label]), gradient (p - onehot)/N") {
  const int64_t N = 6, K = 4;
  Tensor logits = test::random_tensor({N, K}, 11, -3.0f, 3.0f);
  const auto labels = random_labels(N, K, 12);
  const auto log_p = log_softmax(logits).to_vector();
  double expected = 0.0;
  for (int64_t i = 0; i < N; ++i) expected -= log_p[i * K + labels[i]] / N;
  logits.set_requires_grad(true);
  Tensor loss = cross_entropy(logits, labels);
  CHECK(loss.shape() == Shape{});
  CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-6));
  loss.backward();
  const auto p = softmax(logits.detach()).to_vector();
  const auto grad = logits.grad().to_vector();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k) {
      const double onehot = k == labels[i] ? 1.0 : 0.0;
      CHECK(grad[i * K + k] == doctest::Approx((p[i * K + k] - onehot) / N).epsilon(1e-5));
    }
}

TEST_CASE("softmax, log_softmax and cross_entropy through autograd (float)") {
  const Tensor w = test::random_tensor({3, 5}, 21);  // a fixed weighting of the outputs
  test::expect_autograd_matches_fd(
      "softmax", {test::random_tensor({3, 5}, 22)},
      [&](std::vector<Tensor>& in) { return sum(softmax(in[0]) * w); });
  test::expect_autograd_matches_fd(
      "log_softmax", {test::random_tensor({3, 5}, 23)},
      [&](std::vector<Tensor>& in) { return sum(log_softmax(in[0]) * w); });
  const std::vector<int64_t> labels = {4, 0, 2};
  test::expect_autograd_matches_fd(
      "cross_entropy", {test::random_tensor({3, 5}, 24)},
      [&](std::vector<Tensor>& in) { return cross_entropy(in[0], labels); });
  // Weighted, smoothed, and scaled afterwards so the upstream gradient is not 1.
  test::expect_autograd_matches_fd(
      "cross_entropy weighted smoothed", {test::random_tensor({3, 5}, 25)},
      [&](std::vector<Tensor>& in) {
        return scale(cross_entropy(in[0], labels, {0.5f, 1, 2, 1, 3}, 0.2f), 3.0f);
      });
}

TEST_CASE("softmax and cross_entropy argument errors") {
  Tensor logits = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(softmax(Tensor::zeros({2, 3, 4})),
                       doctest::Contains("softmax: logits (2, 3, 4) must be 2-d (N, K)"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(Tensor::zeros({6})),
                       doctest::Contains("log_softmax: logits (6,) must be 2-d"), Error);
  CHECK_THROWS_WITH_AS(softmax(Tensor::zeros({2, 0})),
                       doctest::Contains("softmax: logits (2, 0) have no classes"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros({2, 3, 1}), {0, 1}),
                       doctest::Contains("cross_entropy: logits (2, 3, 1) must be 2-d"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 1, 2}),
                       doctest::Contains("cross_entropy: 3 labels for logits (2, 3)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 3}),
                       doctest::Contains("cross_entropy: label 3 at index 1 is outside [0, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {-1, 0}),
                       doctest::Contains("cross_entropy: label -1 at index 0 is outside [0, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 1}, {1, 1}),
                       doctest::Contains("cross_entropy: 2 class weights for 3 classes"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 1}, {1, -0.5f, 1}),
                       doctest::Contains("class weight -0.5 of class 1 must be finite and "
                                         "non-negative"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 0}, {0, 1, 1}),
                       doctest::Contains("total class weight 0"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 1}, {}, 1.0f),
                       doctest::Contains("cross_entropy: label_smoothing 1 is outside [0, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, {0, 1}, {}, -0.1f),
                       doctest::Contains("label_smoothing -0.1 is outside [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros({0, 3}), {}),
                       doctest::Contains("cross_entropy: empty batch"), Error);
  // A zero weight is allowed as long as the batch's total is positive.
  CHECK(std::isfinite(cross_entropy(logits, {0, 1}, {0, 1, 1}).item()));
}
