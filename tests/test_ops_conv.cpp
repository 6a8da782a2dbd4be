// conv2d: forward values against a direct loop, double-precision gradient checks of the im2col
// kernels, the autograd wiring in float, frozen weights, and argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/shapes.h"
#include "kernels/cpu/conv.h"
#include "tests/conv_reference.h"
#include "tests/gradcheck.h"

using namespace busi;
using test::max_abs_difference;

namespace {

// One test configuration: input (N, C, H, W), weight (O, C, kH, kW), stride, padding.
struct ConvCase {
  int64_t N, C, H, W, O, kH, kW, stride, pad;
};

Conv2dShape shape_of(const ConvCase& c) {
  return Conv2dShape{c.N,
                     c.C,
                     c.H,
                     c.W,
                     c.O,
                     c.kH,
                     c.kW,
                     c.stride,
                     c.pad,
                     conv_output_size(c.H, c.kH, c.stride, c.pad),
                     conv_output_size(c.W, c.kW, c.stride, c.pad)};
}

std::string describe(const ConvCase& c) {
  return "x (" + std::to_string(c.N) + ", " + std::to_string(c.C) + ", " + std::to_string(c.H) +
         ", " + std::to_string(c.W) + ") w (" + std::to_string(c.O) + ", " + std::to_string(c.C) +
         ", " + std::to_string(c.kH) + ", " + std::to_string(c.kW) + ") stride " +
         std::to_string(c.stride) + " pad " + std::to_string(c.pad);
}

// Odd sizes, strides 1 and 2, padding 0/1/2, kernels 1/3/5 (and a non-square 3x1), batches 1
// and 3, channels 1 to 4. The first is a pointwise convolution (the kernels' no-im2col path).
const ConvCase kCases[] = {
    {3, 3, 5, 4, 2, 1, 1, 1, 0},  // pointwise
    {3, 3, 7, 5, 4, 3, 3, 1, 1},  // 3x3 "same"
    {1, 3, 7, 5, 2, 3, 3, 2, 1},  // stride 2
    {3, 1, 8, 6, 2, 5, 5, 1, 2},  // 5x5 pad 2
    {1, 4, 6, 7, 3, 3, 3, 2, 2},  // pad 2 with a 3x3 kernel: outputs that see mostly padding
    {3, 2, 5, 7, 2, 1, 1, 2, 0},  // 1x1 with stride 2 (not pointwise: goes through im2col)
    {1, 2, 9, 5, 3, 3, 1, 1, 1},  // non-square kernel
    {1, 1, 4, 4, 1, 5, 5, 1, 1},  // kernel larger than the image, fits only with padding
};

}  // namespace

TEST_CASE("conv2d forward kernel matches a direct loop (double)") {
  for (const ConvCase& c : kCases) {
    const Conv2dShape s = shape_of(c);
    const auto x = test::random_doubles(c.N * c.C * c.H * c.W, 1);
    const auto w = test::random_doubles(c.O * c.C * c.kH * c.kW, 2);
    const auto b = test::random_doubles(c.O, 3);
    std::vector<double> y(s.N * s.O * s.Ho * s.Wo, -99.0);  // stale values must be overwritten
    INFO(describe(c));
    cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data());
    CHECK(max_abs_difference(y, test::naive_conv2d(s, x, w, b)) < 1e-12);
    cpu::conv2d_forward<double>(s, x.data(), w.data(), nullptr, y.data());  // no bias
    CHECK(max_abs_difference(y, test::naive_conv2d(s, x, w, {})) < 1e-12);
  }
}

TEST_CASE("conv2d op forward values and output shape (float)") {
  // Stride 2, padding 1, 7x5 image: Ho = (7 + 2 - 3) / 2 + 1 = 4, Wo = (5 + 2 - 3) / 2 + 1 = 3.
  const ConvCase c{2, 3, 7, 5, 4, 3, 3, 2, 1};
  const Tensor x = test::random_tensor({2, 3, 7, 5}, 4);
  const Tensor w = test::random_tensor({4, 3, 3, 3}, 5);
  const Tensor b = test::random_tensor({4}, 6);
  const Tensor y = conv2d(x, w, b, 2, 1);
  CHECK(y.shape() == Shape{2, 4, 4, 3});
  auto to_double = [](const Tensor& t) {
    const std::vector<float> f = t.to_vector();
    return std::vector<double>(f.begin(), f.end());
  };
  const std::vector<double> expected =
      test::naive_conv2d(shape_of(c), to_double(x), to_double(w), to_double(b));
  CHECK(max_abs_difference(to_double(y), expected) < 1e-5);

  // A hand-sized example: a 2x2 all-ones kernel over [[1, 2], [3, 4]] with padding 1 sums each
  // window of the zero-padded image.
  const Tensor img = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor ones = Tensor::ones({1, 1, 2, 2});
  CHECK(conv2d(img, ones, Tensor(), 1, 1).to_vector() ==
        std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4});
}

TEST_CASE("conv2d gradients dx, dw, db, double precision") {
  for (const ConvCase& c : kCases) {
    const Conv2dShape s = shape_of(c);
    auto x = test::random_doubles(c.N * c.C * c.H * c.W, 11);
    auto w = test::random_doubles(c.O * c.C * c.kH * c.kW, 12);
    auto b = test::random_doubles(c.O, 13);
    const auto dy = test::random_doubles(s.N * s.O * s.Ho * s.Wo, 14);  // L = sum dy * y
    std::vector<double> y(dy.size());
    std::vector<double> dx(x.size(), -99.0), dw(w.size(), -99.0), db(b.size(), -99.0);
    auto loss = [&] {
      cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data());
      return test::weighted_sum(y, dy);
    };
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    INFO(describe(c));
    test::expect_gradient_matches("conv2d dx", x, loss, dx);
    test::expect_gradient_matches("conv2d dw", w, loss, dw);
    test::expect_gradient_matches("conv2d db", b, loss, db);
  }
}

TEST_CASE("conv2d kernels on larger shapes match direct loops (both threading paths)") {
  // Too large for finite differences, so the backward is checked against direct loops. The
  // single large image takes the parallel-GEMM path; the batch of 5 is split between threads
  // image by image (unevenly for 2 or 4 threads), whose dw partial sums are then added.
  for (const ConvCase& c :
       {ConvCase{1, 8, 40, 36, 16, 3, 3, 1, 1}, ConvCase{5, 4, 21, 19, 6, 3, 3, 2, 1}}) {
    const Conv2dShape s = shape_of(c);
    const auto x = test::random_doubles(c.N * c.C * c.H * c.W, 61);
    const auto w = test::random_doubles(c.O * c.C * c.kH * c.kW, 62);
    const auto b = test::random_doubles(c.O, 63);
    const auto dy = test::random_doubles(s.N * s.O * s.Ho * s.Wo, 64);
    std::vector<double> y(dy.size()), dx(x.size()), dw(w.size()), db(c.O);
    cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data());
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    std::vector<double> dx_ref, dw_ref, db_ref;
    test::naive_conv2d_backward(s, x, w, dy, dx_ref, dw_ref, db_ref);
    INFO(describe(c));
    // Sums of up to a few thousand O(1) terms in another order: rounding stays below 1e-10.
    CHECK(max_abs_difference(y, test::naive_conv2d(s, x, w, b)) < 1e-10);
    CHECK(max_abs_difference(dx, dx_ref) < 1e-10);
    CHECK(max_abs_difference(dw, dw_ref) < 1e-10);
    CHECK(max_abs_difference(db, db_ref) < 1e-10);
  }
}

TEST_CASE("conv2d backward computes each wanted gradient alone, the same as all together") {
  for (const ConvCase& c : {kCases[0], kCases[2], kCases[3]}) {
    const Conv2dShape s = shape_of(c);
    const auto x = test::random_doubles(c.N * c.C * c.H * c.W, 21);
    const auto w = test::random_doubles(c.O * c.C * c.kH * c.kW, 22);
    const auto dy = test::random_doubles(s.N * s.O * s.Ho * s.Wo, 23);
    std::vector<double> dx(x.size()), dw(w.size()), db(c.O);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    std::vector<double> dx_alone(x.size(), 7.0), dw_alone(w.size(), 7.0), db_alone(c.O, 7.0);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx_alone.data(), nullptr,
                                 nullptr);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), nullptr, dw_alone.data(),
                                 nullptr);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), nullptr, nullptr,
                                 db_alone.data());
    INFO(describe(c));
    CHECK(max_abs_difference(dx_alone, dx) == 0.0);
    CHECK(max_abs_difference(dw_alone, dw) == 0.0);
    CHECK(max_abs_difference(db_alone, db) == 0.0);
  }
}

TEST_CASE("conv2d through autograd (float)") {
  // L = sum(conv2d(x, w, b) * m) for a fixed random m: linear in y, so the float finite
  // differences carry only rounding error.
  struct Small {
    Shape x, w;
    int64_t stride, pad;
  };
  for (const Small& c :
       {Small{{2, 2, 5, 4}, {3, 2, 3, 3}, 1, 1}, Small{{1, 3, 7, 5}, {2, 3, 3, 3}, 2, 2},
        Small{{3, 1, 4, 4}, {2, 1, 1, 1}, 1, 0}}) {
    const Tensor probe = conv2d(Tensor::zeros(c.x), Tensor::zeros(c.w), Tensor(), c.stride, c.pad);
    const Tensor m = test::random_tensor(probe.shape(), 31);
    test::expect_autograd_matches_fd("conv2d " + shape_str(c.x) + " * " + shape_str(c.w),
                                     {test::random_tensor(c.x, 32), test::random_tensor(c.w, 33),
                                      test::random_tensor({c.w[0]}, 34)},
                                     [&](std::vector<Tensor>& in) {
                                       return sum(conv2d(in[0], in[1], in[2], c.stride, c.pad) * m);
                                     });
  }
}

TEST_CASE("conv2d_relu equals relu(conv2d) exactly, forward and backward") {
  // The fused op must be the composition, bit for bit (the same kernels, the mask from y), so
  // its gradients are those the checks above verify; the finite-difference check below covers
  // it as a whole.
  for (const int64_t stride : {1, 2}) {
    std::vector<Tensor> fused = {test::random_tensor({2, 3, 9, 7}, 51),
                                 test::random_tensor({5, 3, 3, 3}, 52),
                                 test::random_tensor({5}, 53)};
    std::vector<Tensor> plain = {fused[0].clone(), fused[1].clone(), fused[2].clone()};
    for (Tensor& t : fused) t.set_requires_grad(true);
    for (Tensor& t : plain) t.set_requires_grad(true);
    const Tensor m =
        test::random_tensor(conv2d(plain[0], plain[1], plain[2], stride, 1).shape(), 54);
    const Tensor y_fused = conv2d_relu(fused[0], fused[1], fused[2], stride, 1);
    const Tensor y_plain = relu(conv2d(plain[0], plain[1], plain[2], stride, 1));
    CHECK(y_fused.to_vector() == y_plain.to_vector());
    CHECK(y_fused.grad_fn()->op == "conv2d_relu");
    sum(mul(y_fused, m)).backward();
    sum(mul(y_plain, m)).backward();
    for (size_t k = 0; k < fused.size(); ++k)
      CHECK_MESSAGE(fused[k].grad().to_vector() == plain[k].grad().to_vector(), "input " << k);
  }
  // Central differences across the ReLU's kink are wrong by design, so the inputs are drawn
  // (from successive seeds) until every pre-activation is further from 0 than a perturbation of
  // h of one input can move it: |dz| <= h max(1, |x|, |w|) = h, since all inputs lie in [-1, 1].
  const float h = 1e-3f;
  std::vector<Tensor> in;
  for (uint64_t seed = 55; seed < 255 && in.empty(); seed += 3) {
    std::vector<Tensor> candidate = {test::random_tensor({2, 2, 6, 5}, seed),
                                     test::random_tensor({3, 2, 3, 3}, seed + 1),
                                     test::random_tensor({3}, seed + 2)};
    const std::vector<float> z = conv2d(candidate[0], candidate[1], candidate[2], 1, 1).to_vector();
    float nearest = 1.0f;
    for (float v : z) nearest = std::min(nearest, std::abs(v));
    if (nearest > 3.0f * h) in = candidate;
  }
  REQUIRE_FALSE(in.empty());
  test::expect_autograd_matches_fd(
      "conv2d_relu", in,
      [](std::vector<Tensor>& t) { return sum(conv2d_relu(t[0], t[1], t[2], 1, 1)); }, 2e-2, h);
}

TEST_CASE("conv2d gives no gradient to what does not require one") {
  Tensor x = test::random_tensor({2, 3, 6, 5}, 41);
  Tensor w = test::random_tensor({4, 3, 3, 3}, 42);
  Tensor b = test::random_tensor({4}, 43);

  SUBCASE("frozen weight") {
    x.set_requires_grad(true);
    b.set_requires_grad(true);
    sum(conv2d(x, w, b, 1, 1)).backward();
    CHECK_FALSE(w.grad().defined());
    REQUIRE(x.grad().defined());
    CHECK(x.grad().shape() == x.shape());
    REQUIRE(b.grad().defined());
    // dL/db[o] = number of output positions summed over = N * Ho * Wo = 2 * 6 * 5.
    CHECK(b.grad().to_vector() == std::vector<float>(4, 60.0f));
  }
  SUBCASE("input without gradient") {
    w.set_requires_grad(true);
    sum(conv2d(x, w, b, 1, 1)).backward();
    CHECK_FALSE(x.grad().defined());
    CHECK_FALSE(b.grad().defined());
    REQUIRE(w.grad().defined());
    CHECK(w.grad().shape() == w.shape());
  }
  SUBCASE("nothing requires a gradient: no graph is recorded") {
    CHECK(conv2d(x, w, b, 1, 1).grad_fn() == nullptr);
  }
}

TEST_CASE("conv2d argument errors") {
  const Tensor x = Tensor::zeros({2, 3, 8, 8});
  const Tensor w = Tensor::zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 5, 3, 3})),
                       doctest::Contains("conv2d: input (2, 3, 8, 8) has 3 channels but weight "
                                         "(4, 5, 3, 3) expects 5"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({3, 8, 8}), w),
                       doctest::Contains("conv2d: input (3, 8, 8) must be (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 27})),
                       doctest::Contains("conv2d: weight (4, 27) must be (O, C, kH, kW)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor::zeros({3})),
                       doctest::Contains("conv2d: bias (3,) does not match the 4 output channels"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 0),
                       doctest::Contains("conv2d: stride 0 must be at least 1"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 1, -1),
                       doctest::Contains("conv2d: padding -1 must not be negative"), Error);
  CHECK_THROWS_WITH_AS(
      conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 7, 7}), Tensor(), 1, 1),
      doctest::Contains("conv2d: kernel 7x7 is larger than the padded input 6x6"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor(), w), doctest::Contains("conv2d"), Error);
  // The largest kernel that fits the padded input still works: one output position.
  CHECK(conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 6, 6}), Tensor(), 1, 1).shape() ==
        Shape{1, 2, 1, 1});
}
