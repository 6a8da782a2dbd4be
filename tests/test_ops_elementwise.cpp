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
                       doctest::Contains("add: shapes (2, 3) and (4,) cannot be broadcast"),
                       Error);
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

TEST_CASE("relu, scale and sum gradients, double precision") {
  auto x = test::random_doubles(101, 3);
  const auto w = test::random_doubles(101, 4);
  std::vector<double> y(101), dx(101);
  auto loss = [&] {
    cpu::relu_forward<double>(x.data(), y.data(), 101);
    return test::weighted_sum(y, w);
  };
  loss();
  cpu::relu_backward<double>(y.data(), w.data(), dx.data(), 101);
  test::expect_gradient_matches("relu", x, loss, dx);
  CHECK(cpu::sum_all<double>(x.data(), 101) == doctest::Approx(
      std::accumulate(x.begin(), x.end(), 0.0)));
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
