// dropout: reproducible masks from (seed, counter), the kept fraction, scaling, the backward's
// mask, eval mode, a double-precision gradient check of the kernels, autograd wiring, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "kernels/common/philox.h"
#include "kernels/cpu/dropout.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// Inputs in [0.5, 1.5): never zero, so an output is zero exactly where the mask dropped it.
Tensor nonzero_input(int64_t n, uint64_t seed) {
  return test::random_tensor({n}, seed, 0.5f, 1.5f);
}

std::vector<bool> kept(const Tensor& y) {
  std::vector<bool> mask;
  for (float v : y.to_vector()) mask.push_back(v != 0.0f);
  return mask;
}

}  // namespace

TEST_CASE("dropout masks: same seed same mask, another seed or a later call another mask") {
  const Tensor x = nonzero_input(1000, 1);
  Generator a(42), b(42), c(43);
  const auto mask_a = kept(dropout(x, 0.5f, true, a));
  CHECK(mask_a == kept(dropout(x, 0.5f, true, b)));
  CHECK(mask_a != kept(dropout(x, 0.5f, true, c)));
  // The generator moved on: the next call from `a` draws a fresh mask.
  CHECK(mask_a != kept(dropout(x, 0.5f, true, a)));
}

TEST_CASE("dropout keeps a fraction 1 - p and scales survivors by 1 / (1 - p)") {
  // The kept count of n independent draws is Binomial(n, 1 - p): its fraction has standard
  // deviation sqrt(p (1 - p) / n) <= 0.0016 for n = 100000. A bound of 6 standard deviations
  // is missed by a correct mask with probability ~2e-9, while a mask kept with probability p
  // instead of 1 - p would be off by |1 - 2p| >= 0.4 for the p tested here.
  const int64_t n = 100000;
  const Tensor x = nonzero_input(n, 2);
  const auto xv = x.to_vector();
  for (const float p : {0.2f, 0.7f, 0.95f}) {
    INFO("p = " << p);
    Generator gen(7);
    const auto y = dropout(x, p, true, gen).to_vector();
    int64_t survivors = 0;
    bool all_scaled = true;
    for (int64_t i = 0; i < n; ++i) {
      if (y[i] == 0.0f) continue;
      ++survivors;
      if (std::abs(y[i] - xv[i] / (1.0f - p)) > 1e-6f * std::abs(y[i])) all_scaled = false;
    }
    const double fraction = static_cast<double>(survivors) / n;
    const double sd = std::sqrt(p * (1.0 - p) / n);
    CHECK(std::abs(fraction - (1.0 - p)) < 6 * sd);
    CHECK(all_scaled);
  }
}

TEST_CASE("dropout mask equals the Philox values of the reserved counters") {
  // An odd size, so the last Philox block is only partly used.
  const int64_t n = 1001;
  const float p = 0.3f;
  const uint64_t seed = 1234;
  Generator gen(seed);
  gen.reserve(5);  // blocks 0 and 1 are taken (4 values each), so dropout starts at block 2
  const auto mask = kept(dropout(nonzero_input(n, 3), p, true, gen));
  const uint64_t counter = 2;
  int64_t mismatches = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool expected = u32_to_unit_float(philox_u32(seed, counter, i)) >= p;
    if (mask[i] != expected) ++mismatches;
  }
  CHECK(mismatches == 0);
  // The generator reserved ceil(n / 4) blocks after those.
  CHECK(gen.offset() == 4 * (counter + (n + 3) / 4));
}

TEST_CASE("dropout backward uses the forward's mask") {
  const float p = 0.4f;
  Tensor x = nonzero_input(999, 4);
  x.set_requires_grad(true);
  Generator gen(9);
  const Tensor y = dropout(x, p, true, gen);
  sum(y).backward();  // dL/dx_i = keep_i / (1 - p)
  const auto yv = y.to_vector(), dx = x.grad().to_vector();
  int64_t mismatches = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    const float expected = yv[i] != 0.0f ? 1.0f / (1.0f - p) : 0.0f;
    if (std::abs(dx[i] - expected) > 1e-6f) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("dropout in eval mode or with p = 0 returns its input") {
  const Tensor x = nonzero_input(100, 5);
  Generator gen(11);
  CHECK(dropout(x, 0.5f, false, gen).id() == x.id());
  CHECK(dropout(x, 0.0f, true, gen).id() == x.id());
  CHECK(gen.offset() == 0);  // no random values were used
}

TEST_CASE("dropout gradients, double precision") {
  // With the mask fixed by (seed, counter), y is linear in x; the check covers the scaling
  // and that forward and backward agree on every element, including a partial last block.
  const int64_t n = 37;
  const float p = 0.35f;
  auto x = test::random_doubles(n, 6);
  const auto w = test::random_doubles(n, 7);
  std::vector<double> y(n), dx(n);
  auto loss = [&] {
    cpu::dropout_forward<double>(n, x.data(), p, 99, 5, y.data());
    return test::weighted_sum(y, w);
  };
  cpu::dropout_backward<double>(n, w.data(), p, 99, 5, dx.data());
  test::expect_gradient_matches("dropout dx", x, loss, dx);
  // The double and float kernels draw the same mask.
  std::vector<float> xf(n, 1.0f), yf(n);
  cpu::dropout_forward<float>(n, xf.data(), p, 99, 5, yf.data());
  for (int64_t i = 0; i < n; ++i) CHECK((yf[i] != 0.0f) == (dx[i] != 0.0));
}

TEST_CASE("dropout through autograd (float)") {
  const Tensor w = test::random_tensor({4, 6}, 50);
  // A fresh generator per evaluation, so the finite differences see the same mask.
  test::expect_autograd_matches_fd("dropout", {test::random_tensor({4, 6}, 51)},
                                   [&](std::vector<Tensor>& in) {
                                     Generator gen(3);
                                     return sum(dropout(in[0], 0.5f, true, gen) * w);
                                   });
}

TEST_CASE("dropout argument errors") {
  const Tensor x = Tensor::ones({4});
  CHECK_THROWS_WITH_AS(dropout(x, 1.0f, true),
                       doctest::Contains("dropout: p = 1 is outside [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1f, true),
                       doctest::Contains("dropout: p = -0.1 is outside [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, std::numeric_limits<float>::quiet_NaN(), false),
                       doctest::Contains("dropout: p = nan is outside [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(dropout(Tensor(), 0.5f, true),
                       doctest::Contains("dropout: argument 'x' is an undefined tensor"), Error);
}
