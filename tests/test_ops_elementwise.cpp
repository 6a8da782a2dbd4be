// Element-wise ops and reductions: forward values, broadcasting, double-precision gradient checks
// of the backward kernels, float checks of the autograd wiring, and shape errors.
#include <doctest/doctest.h>

#include "kernels/cpu/elementwise.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// The broadcast description the ops build, for shapes given directly (kernel-level tests).
BroadcastShape broadcast_of(const Shape& a, const Shape& b) {
  // Reuse the op's own rules through a forward on empty-valued tensors of those shapes.
  Tensor out = add(Tensor::zeros(a), Tensor::zeros(b));
  BroadcastShape s;
  s.ndim = static_cast<int>(out.dim());
  const size_t nd = out.shape().size();
  const Shape as = contiguous_strides(a), bs = contiguous_strides(b);
  for (size_t d = 0; d < nd; ++d) {
    const int64_t ia = static_cast<int64_t>(d) - static_cast<int64_t>(nd - a.size());
    const int64_t ib = static_cast<int64_t>(d) - static_cast<int64_t>(nd - b.size());
    s.out[d] = out.shape()[d];
    s.a_stride[d] = (ia >= 0 && a[ia] != 1) ? as[ia] : 0;
    s.b_stride[d] = (ib >= 0 && b[ib] != 1) ? bs[ib] : 0;
  }
  s.numel = out.numel();
  return s;
}

}  // namespace

TEST_CASE("broadcast add of a per-channel bias") {
  Tensor x = Tensor::zeros({2, 3, 2, 2});
  Tensor b = Tensor::from_vector({1, 2, 3}, {1, 3, 1, 1});
  std::vector<float> y = add(x, b).to_vector();
  CHECK(y[0] == 1.0f);
  CHECK(y[4] == 2.0f);
  CHECK(y[8] == 3.0f);
  CHECK(y[12] == 1.0f);
  CHECK_THROWS_WITH_AS(add(Tensor::zeros({2, 3}), Tensor::zeros({4})),
                       doctest::Contains("add: shapes (2, 3) and (4,) cannot be broadcast"), Error);
}

TEST_CASE("broadcasting an empty dimension gives an empty result, and empty gradients") {
  // NumPy's rule: a dimension of 1 stretches to the other's size, 0 included ((0, 3) + (1, 3) is
  // (0, 3), not (1, 3), which would read past the end of the empty operand).
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{0, 3}, {1, 3}},
                                                                   {{1, 3}, {0, 3}},
                                                                   {{0, 3}, {3}},
                                                                   {{0, 3}, {}},
                                                                   {{2, 0, 4}, {2, 1, 4}}}) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    Tensor a = Tensor::ones(sa), b = Tensor::ones(sb);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    const Tensor y = mul(a, b);
    CHECK(y.numel() == 0);
    CHECK(y.shape() == (a.numel() == 0 ? sa : sb));
    sum(y).backward();
    CHECK(a.grad().shape() == sa);
    CHECK(b.grad().shape() == sb);
    for (float g : b.grad().to_vector()) CHECK(g == 0.0f);  // a sum over no elements
  }
  // The sum of nothing is 0, and its gradient is empty.
  Tensor e = Tensor::ones({0});
  e.set_requires_grad(true);
  const Tensor s = sum(e);
  CHECK(s.item() == 0.0f);
  s.backward();
  CHECK(e.grad().shape() == Shape{0});
}

TEST_CASE("binary op gradients, double precision, with broadcasting") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{2, 3, 5, 5}, {1, 3, 1, 1}}, {{7}, {}}, {{1, 5}, {3, 1}}};
  uint64_t seed = 10;
  for (auto [sa, sb] : shapes)
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul}) {
      const BroadcastShape s = broadcast_of(sa, sb);
      auto a = test::random_doubles(shape_numel(sa), seed++);
      auto b = test::random_doubles(shape_numel(sb), seed++);
      const auto w = test::random_doubles(s.numel, seed++);
      std::vector<double> y(s.numel), da(a.size()), db(b.size());
      auto loss = [&] {
        cpu::binary_forward<double>(op, s, a.data(), b.data(), y.data());
        return test::weighted_sum(y, w);
      };
      cpu::binary_backward<double>(op, s, a.data(), b.data(), w.data(), da.data(), a.size(),
                                   db.data(), b.size());
      const std::string what = "binary op " + std::to_string(static_cast<int>(op)) + " " +
                               shape_str(sa) + " with " + shape_str(sb);
      test::expect_gradient_matches(what + " da", a, loss, da);
      test::expect_gradient_matches(what + " db", b, loss, db);
    }
}

TEST_CASE("relu gradient, double precision, odd sizes") {
  uint64_t seed = 3;
  for (int64_t n : {1, 7, 101, 2 * 3 * 5 * 7}) {
    auto x = test::random_doubles(n, seed++);
    const auto w = test::random_doubles(n, seed++);
    std::vector<double> y(n), dx(n);
    auto loss = [&] {
      cpu::relu_forward<double>(x.data(), y.data(), n);
      return test::weighted_sum(y, w);
    };
    loss();
    cpu::relu_backward<double>(y.data(), w.data(), dx.data(), n);
    test::expect_gradient_matches("relu n=" + std::to_string(n), x, loss, dx);
  }
}

// scale, add_scalar and sum have no backward kernel of their own: their gradients are built
// from forward kernels (d(s x)/dx = s: the upstream gradient scaled by s; d(x + s)/dx = 1: passed
// through; d(sum x)/dx_i = 1: spread over x). The check below differentiates the forward kernels
// numerically in double and compares with exactly those formulas.
TEST_CASE("scale, add_scalar, sum and mean gradients, double precision") {
  const int64_t n = 37;
  auto x = test::random_doubles(n, 21);
  const auto w = test::random_doubles(n, 22);
  std::vector<double> y(n), dx(n);
  const double s = -1.75;

  auto scale_loss = [&] {
    cpu::scale_forward<double>(x.data(), s, y.data(), n);
    return test::weighted_sum(y, w);
  };
  cpu::scale_forward<double>(w.data(), s, dx.data(), n);  // dx = s w
  test::expect_gradient_matches("scale", x, scale_loss, dx);

  auto add_scalar_loss = [&] {
    cpu::add_scalar_forward<double>(x.data(), s, y.data(), n);
    return test::weighted_sum(y, w);
  };
  test::expect_gradient_matches("add_scalar", x, add_scalar_loss, w);  // dx = w

  auto sum_loss = [&] { return 3.0 * cpu::sum_all<double>(x.data(), n); };
  test::expect_gradient_matches("sum", x, sum_loss, std::vector<double>(n, 3.0));
  auto mean_loss = [&] { return 3.0 * cpu::sum_all<double>(x.data(), n) / n; };
  test::expect_gradient_matches("mean", x, mean_loss, std::vector<double>(n, 3.0 / n));
  CHECK(cpu::sum_all<double>(x.data(), n) ==
        doctest::Approx(std::accumulate(x.begin(), x.end(), 0.0)));

  // The ops build exactly these gradients (float, exact for these values).
  Tensor xt = test::random_tensor({5, 3}, 23).set_requires_grad(true);
  Tensor wt = test::random_tensor({5, 3}, 24);
  sum(mul(scale(add_scalar(xt, 2.0f), -1.75f), wt)).backward();
  const std::vector<float> got = xt.grad().to_vector(), wv = wt.to_vector();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == -1.75f * wv[i]);
  xt.zero_grad();
  mean(xt).backward();
  for (float g : xt.grad().to_vector()) CHECK(g == 1.0f / 15.0f);
}

// reshape and flatten are views: the gradient is the upstream gradient, given the input's shape.
TEST_CASE("reshape and flatten gradients: the upstream gradient in the input's shape") {
  Tensor x = test::random_tensor({2, 3, 4, 5}, 31).set_requires_grad(true);
  Tensor w = test::random_tensor({2, 60}, 32);
  sum(mul(flatten(x), w)).backward();
  CHECK(x.grad().shape() == Shape{2, 3, 4, 5});
  CHECK(x.grad().to_vector() == w.to_vector());

  x.zero_grad();
  Tensor w2 = test::random_tensor({6, 20}, 33);
  sum(mul(reshape(x, {6, -1}), w2)).backward();
  CHECK(x.grad().shape() == Shape{2, 3, 4, 5});
  CHECK(x.grad().to_vector() == w2.to_vector());
  CHECK_THROWS_WITH_AS(reshape(x, {7, -1}), doctest::Contains("(2, 3, 4, 5)"), Error);
}

TEST_CASE("autograd wiring of element-wise ops and reductions (float)") {
  test::expect_autograd_matches_fd(
      "add/sub/mul/scale/relu/mean",
      {test::random_tensor({2, 3, 4}, 1), test::random_tensor({3, 1}, 2)},
      [](std::vector<Tensor>& in) {
        Tensor t = mul(add(in[0], in[1]), sub(in[0], scale(in[1], 0.5f)));
        return mean(add_scalar(relu(add_scalar(t, 0.1f)), 1.0f));
      });
}
