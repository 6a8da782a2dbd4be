// Pooling: forward values (padding rules, the first-max tie rule), double-precision gradient
// checks of the max/avg/global kernels, the autograd wiring in float, and argument errors.
#include <doctest/doctest.h>

#include "kernels/common/shapes.h"
#include "kernels/cpu/pool.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// One test configuration: input (N, C, H, W), square window, stride, padding.
struct PoolCase {
  int64_t N, C, H, W, kernel, stride, pad;
};

Pool2dShape shape_of(const PoolCase& c) {
  return Pool2dShape{c.N,
                     c.C,
                     c.H,
                     c.W,
                     c.kernel,
                     c.stride,
                     c.pad,
                     conv_output_size(c.H, c.kernel, c.stride, c.pad),
                     conv_output_size(c.W, c.kernel, c.stride, c.pad)};
}

std::string describe(const PoolCase& c) {
  return "x (" + std::to_string(c.N) + ", " + std::to_string(c.C) + ", " + std::to_string(c.H) +
         ", " + std::to_string(c.W) + ") kernel " + std::to_string(c.kernel) + " stride " +
         std::to_string(c.stride) + " pad " + std::to_string(c.pad);
}

// Odd sizes, non-overlapping (stride = kernel) and overlapping windows, padding 0/1/2, kernels
// 1 to 5, batches 1 and 3, channels 1 to 4.
const PoolCase kCases[] = {
    {3, 2, 6, 4, 2, 2, 0},  // the usual 2x2 halving
    {1, 3, 7, 5, 2, 2, 0},  // odd sizes: the last row/column is dropped (floor)
    {3, 1, 7, 5, 3, 2, 1},  // overlapping windows with padding
    {1, 4, 5, 7, 3, 1, 1},  // stride 1, every element in up to 9 windows
    {2, 2, 6, 6, 5, 2, 2},  // 5x5 with padding 2
    {1, 1, 3, 3, 1, 1, 0},  // kernel 1: identity
};

// n input values spaced 2/n apart in [-1, 1) (a shuffled 0, 1, ..., n-1, scaled): each
// max-pooling window has one argmax, and a finite-difference step smaller than the spacing
// (1e-6 here, 1e-2 in float with n <= 150) never changes it.
std::vector<double> distinct_doubles(size_t n, uint64_t seed) {
  Generator gen(seed);
  const std::vector<int64_t> order = gen.permutation(static_cast<int64_t>(n));
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 2.0 * static_cast<double>(order[i]) / n - 1.0;
  return v;
}
Tensor distinct_tensor(const Shape& shape, uint64_t seed) {
  const std::vector<double> d = distinct_doubles(shape_numel(shape), seed);
  return Tensor::from_vector(std::vector<float>(d.begin(), d.end()), shape);
}

// Checks a pooling backward kernel against finite differences of its forward kernel, with
// L = sum dy * y for random dy. `backward(x, dy, dx)` is given a dx full of stale values.
void check_pool_gradient(const std::string& what, const PoolCase& c,
                         const std::function<void(const double*, double*)>& forward,
                         const std::function<void(const double*, const double*, double*)>& backward,
                         std::vector<double> x) {
  const Pool2dShape s = shape_of(c);
  const auto dy = test::random_doubles(s.N * s.C * s.Ho * s.Wo, 51);
  std::vector<double> y(dy.size()), dx(x.size(), -99.0);
  backward(x.data(), dy.data(), dx.data());
  auto loss = [&] {
    forward(x.data(), y.data());
    return test::weighted_sum(y, dy);
  };
  INFO(describe(c));
  test::expect_gradient_matches(what, x, loss, dx);
}

}  // namespace

TEST_CASE("max_pool2d forward: padding never wins and stride 0 means the kernel size") {
  // All values negative: zero padding would win every border window, -infinity padding never.
  const Tensor x = Tensor::from_vector({-1, -2, -3, -4, -5, -6, -7, -8, -9}, {1, 1, 3, 3});
  CHECK(max_pool2d(x, 3, 1, 1).to_vector() ==
        std::vector<float>{-1, -1, -2, -1, -1, -2, -4, -4, -5});
  const Tensor y = max_pool2d(
      Tensor::from_vector({1, 5, 2, 0, 3, 4, 8, 6, 7, 1, 9, 2, 0, 3, 4, 5}, {1, 1, 4, 4}), 2);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<float>{5, 8, 7, 9});
}

TEST_CASE("max_pool2d backward sends a tied window's gradient to its first maximum") {
  // Window 1 (left) is all 2s: the first, (0, 0), takes the gradient. Window 2 ties at 5 in
  // (0, 3) and (1, 2): row-major order makes (0, 3) the first.
  Tensor x = Tensor::from_vector({2, 2, 1, 5, 2, 2, 5, 0}, {1, 1, 2, 4});
  x.set_requires_grad(true);
  const Tensor y = max_pool2d(x, 2);
  CHECK(y.to_vector() == std::vector<float>{2, 5});
  sum(y * Tensor::from_vector({10, 20}, {1, 1, 1, 2})).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{10, 0, 0, 20, 0, 0, 0, 0});
}

TEST_CASE("avg_pool2d divides by the number of real elements") {
  // An all-ones image stays all ones whatever the padding: each window's sum equals its count of
  // real elements (dividing by kernel^2 would give 4/9 in the corners).
  CHECK(avg_pool2d(Tensor::ones({1, 1, 4, 5}), 3, 1, 1).to_vector() ==
        std::vector<float>(20, 1.0f));
  // [[1, 2, 3], [4, 5, 6], [7, 8, 9]], 3x3 windows, padding 1, stride 1.
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  // Top-left window: {1, 2, 4, 5} -> 3; centre: all nine -> 5; top-middle: {1..6} -> 3.5.
  const std::vector<float> y = avg_pool2d(x, 3, 1, 1).to_vector();
  CHECK(y[0] == doctest::Approx(3.0));
  CHECK(y[1] == doctest::Approx(3.5));
  CHECK(y[4] == doctest::Approx(5.0));
  CHECK(avg_pool2d(x, 2).to_vector() == std::vector<float>{3});  // stride 0 -> 2: one window
}

TEST_CASE("global_avg_pool2d values and shape") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  const Tensor y = global_avg_pool2d(x);
  CHECK(y.shape() == Shape{1, 2});
  CHECK(y.to_vector() == std::vector<float>{2.5f, 25.0f});
}

TEST_CASE("max_pool2d gradient, double precision") {
  for (const PoolCase& c : kCases) {
    const Pool2dShape s = shape_of(c);
    check_pool_gradient(
        "max_pool2d dx", c,
        [&](const double* x, double* y) { cpu::max_pool2d_forward<double>(s, x, y); },
        [&](const double* x, const double* dy, double* dx) {
          cpu::max_pool2d_backward<double>(s, x, dy, dx);
        },
        distinct_doubles(c.N * c.C * c.H * c.W, 52));
  }
}

TEST_CASE("avg_pool2d gradient, double precision") {
  for (const PoolCase& c : kCases) {
    const Pool2dShape s = shape_of(c);
    check_pool_gradient(
        "avg_pool2d dx", c,
        [&](const double* x, double* y) { cpu::avg_pool2d_forward<double>(s, x, y); },
        [&](const double*, const double* dy, double* dx) {
          cpu::avg_pool2d_backward<double>(s, dy, dx);
        },
        test::random_doubles(c.N * c.C * c.H * c.W, 53));
  }
}

TEST_CASE("global_avg_pool2d gradient, double precision") {
  for (const PoolCase& c : {kCases[1], kCases[3], kCases[5]}) {
    const int64_t HW = c.H * c.W;
    auto x = test::random_doubles(c.N * c.C * HW, 54);
    const auto dy = test::random_doubles(c.N * c.C, 55);
    std::vector<double> y(dy.size()), dx(x.size(), -99.0);
    cpu::global_avg_pool2d_backward<double>(c.N, c.C, HW, dy.data(), dx.data());
    auto loss = [&] {
      cpu::global_avg_pool2d_forward<double>(c.N, c.C, HW, x.data(), y.data());
      return test::weighted_sum(y, dy);
    };
    INFO(describe(c));
    test::expect_gradient_matches("global_avg_pool2d dx", x, loss, dx);
  }
}

TEST_CASE("pooling through autograd (float)") {
  // L = sum(pool(x) * m) for a fixed random m. Max-pooling inputs are spaced 2 / n apart
  // (n <= 140 here, so > 1.4e-2 > h = 1e-2): the finite differences never change an argmax.
  const Tensor m_max = test::random_tensor({2, 2, 4, 3}, 61);
  test::expect_autograd_matches_fd(
      "max_pool2d", {distinct_tensor({2, 2, 7, 5}, 62)},
      [&](std::vector<Tensor>& in) { return sum(max_pool2d(in[0], 3, 2, 1) * m_max); });
  const Tensor m_avg = test::random_tensor({2, 2, 7, 5}, 63);
  test::expect_autograd_matches_fd(
      "avg_pool2d", {test::random_tensor({2, 2, 7, 5}, 64)},
      [&](std::vector<Tensor>& in) { return sum(avg_pool2d(in[0], 3, 1, 1) * m_avg); });
  const Tensor m_global = test::random_tensor({2, 3}, 65);
  test::expect_autograd_matches_fd(
      "global_avg_pool2d", {test::random_tensor({2, 3, 4, 5}, 66)},
      [&](std::vector<Tensor>& in) { return sum(global_avg_pool2d(in[0]) * m_global); });
}

TEST_CASE("pooling records nothing for an input without gradient") {
  const Tensor x = test::random_tensor({1, 2, 4, 4}, 71);
  CHECK(max_pool2d(x, 2).grad_fn() == nullptr);
  CHECK(avg_pool2d(x, 2).grad_fn() == nullptr);
  CHECK(global_avg_pool2d(x).grad_fn() == nullptr);
}

TEST_CASE("pooling argument errors") {
  const Tensor x = Tensor::zeros({2, 3, 8, 8});
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::zeros({3, 8, 8}), 2),
                       doctest::Contains("max_pool2d: input (3, 8, 8) must be (N, C, H, W)"),
                       Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 0),
                       doctest::Contains("avg_pool2d: kernel 0 must be at least 1"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 2, -1),
                       doctest::Contains("max_pool2d: stride -1 must be at least 1"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 2, 2, -1),
                       doctest::Contains("avg_pool2d: padding -1 must not be negative"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 3, 1, 2),
                       doctest::Contains("max_pool2d: padding 2 is more than half the kernel 3"),
                       Error);
  CHECK_THROWS_WITH_AS(
      max_pool2d(Tensor::zeros({1, 1, 2, 8}), 5, 1, 1),
      doctest::Contains("max_pool2d: kernel 5x5 is larger than the padded input 4x10"), Error);
  CHECK_THROWS_WITH_AS(global_avg_pool2d(Tensor::zeros({2, 3})),
                       doctest::Contains("global_avg_pool2d: input (2, 3) must be (N, C, H, W)"),
                       Error);
}
