// Test helpers shared by the op tests: finite-difference gradient checks (double precision on
// the kernels; float through the autograd API), random data and closeness checks.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace busi::test {

// Uniform values in [lo, hi) from a seeded generator (reproducible test data).
inline std::vector<double> random_doubles(size_t n, uint64_t seed, double lo = -1.0,
                                          double hi = 1.0) {
  Generator gen(seed);
  std::vector<double> v(n);
  for (double& x : v) x = gen.uniform(lo, hi);
  return v;
}
inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::vector<float> v(n);
  const std::vector<double> d = random_doubles(n, seed, lo, hi);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(d[i]);
  return v;
}
inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  return Tensor::from_vector(random_floats(shape_numel(shape), seed, lo, hi), shape);
}

// Weighted sum sum_i w_i y_i: a scalar loss whose gradient with respect to y is w, so one
// backward call with dy = w checks every output's gradient at once.
inline double weighted_sum(const std::vector<double>& y, const std::vector<double>& w) {
  double total = 0.0;
  for (size_t i = 0; i < y.size(); ++i) total += y[i] * w[i];
  return total;
}

// Compares `analytic` (dL/dparam from a backward kernel) with central differences
// (L(p + h) - L(p - h)) / 2h, perturbing `param` in place and restoring it. In double precision
// with h = 1e-6 the truncation error is O(h^2) = 1e-12 and the rounding error about
// 1e-16 |L| / h = 1e-10 |L|, so a relative tolerance of 1e-6 leaves a wide margin while still
// catching any wrong term in a gradient formula.
inline void expect_gradient_matches(const std::string& what, std::vector<double>& param,
                                    const std::function<double()>& loss,
                                    const std::vector<double>& analytic, double tol = 1e-6,
                                    double h = 1e-6) {
  REQUIRE(analytic.size() == param.size());
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < param.size(); ++i) {
    const double saved = param[i];
    param[i] = saved + h;
    const double up = loss();
    param[i] = saved - h;
    const double down = loss();
    param[i] = saved;
    const double numeric = (up - down) / (2.0 * h);
    const double err =
        std::abs(numeric - analytic[i]) / std::max({1.0, std::abs(numeric), std::abs(analytic[i])});
    if (err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  INFO(what << ": worst relative error " << worst << " at element " << worst_i);
  CHECK(worst <= tol);
}

// Largest |a - b| / max(1, |b|) over two float vectors of the same size.
inline double max_relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) /
                                std::max(1.0, std::abs(static_cast<double>(b[i]))));
  return worst;
}

// Float check of an op's autograd wiring: the gradients that backward() leaves on `inputs`
// against central differences of `loss_fn` in float32. With h = 1e-2 and float rounding of
// about 1e-7 |L| / h = 1e-5 |L| (|L| is O(10) here), plus the O(h^2) = 1e-4 truncation for
// smooth ops, a relative tolerance of 2e-2 separates a right gradient from a wrong one
// (wrong gradients are off by O(1)); the exact check is the double-precision kernel test.
inline void expect_autograd_matches_fd(const std::string& what, std::vector<Tensor> inputs,
                                       const std::function<Tensor(std::vector<Tensor>&)>& loss_fn,
                                       double tol = 2e-2, float h = 1e-2f) {
  for (Tensor& t : inputs) {
    t.set_requires_grad(true);
    t.zero_grad();
  }
  loss_fn(inputs).backward();
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::vector<float> analytic = inputs[k].grad().to_vector();
    float* p = inputs[k].data();
    double worst = 0.0;
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      const float saved = p[i];
      p[i] = saved + h;
      const double up = loss_fn(inputs).item();
      p[i] = saved - h;
      const double down = loss_fn(inputs).item();
      p[i] = saved;
      const double numeric = (up - down) / (2.0 * h);
      worst = std::max(worst, std::abs(numeric - analytic[i]) /
                                  std::max({1.0, std::abs(numeric), std::abs(1.0 * analytic[i])}));
    }
    INFO(what << ", input " << k << ": worst relative error " << worst);
    CHECK(worst <= tol);
  }
}

}  // namespace busi::test
