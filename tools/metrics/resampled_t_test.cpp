// The corrected resampled t-test and Student's t distribution (see resampled_t_test.h).
#include "tools/metrics/resampled_t_test.h"

#include <cmath>
#include <limits>

#include "kernels/common/error.h"

namespace busi::tools {

namespace {

// The continued fraction of the regularised incomplete beta function I_x(a, b) (the modified
// Lentz method), which converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    // Even step: m (b - m) x / ((a + 2m - 1)(a + 2m)).
    double numerator = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + numerator * d;
    c = 1.0 + numerator / c;
    if (std::abs(d) < kTiny) d = kTiny;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    // Odd step: -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    numerator = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + numerator * d;
    c = 1.0 + numerator / c;
    if (std::abs(d) < kTiny) d = kTiny;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1.0) < 1e-15) break;
  }
  return h;
}

// I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * CF(a, b, x), using the symmetry
// I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction would converge slowly.
double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0))
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

}  // namespace

double student_t_cdf(double t, double df) {
  BUSI_CHECK(df > 0, "student_t_cdf: degrees of freedom must be positive, got ", df);
  if (std::isnan(t)) return std::nan("");
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  const double tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
  return t >= 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double df) {
  BUSI_CHECK(p > 0 && p < 1, "student_t_quantile: p must be in (0, 1), got ", p);
  double lo = -1e4, hi = 1e4;  // far beyond any quantile used here (df >= 1, p in [1e-6, 1-1e-6])
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

CorrectedTTest corrected_resampled_t_test(const std::vector<double>& a,
                                          const std::vector<double>& b, double test_train_ratio) {
  BUSI_CHECK(a.size() == b.size(), "corrected t-test: ", a.size(), " and ", b.size(),
             " fold scores");
  BUSI_CHECK(a.size() >= 2, "corrected t-test: needs at least two folds, got ", a.size());
  BUSI_CHECK(test_train_ratio > 0, "corrected t-test: n_test / n_train must be positive");
  CorrectedTTest r;
  r.n = static_cast<int64_t>(a.size());
  r.test_train_ratio = test_train_ratio;
  const double J = static_cast<double>(r.n);
  for (size_t j = 0; j < a.size(); ++j) r.mean_difference += (b[j] - a[j]) / J;
  double squares = 0.0;
  for (size_t j = 0; j < a.size(); ++j) {
    const double deviation = b[j] - a[j] - r.mean_difference;
    squares += deviation * deviation;
  }
  const double variance = squares / (J - 1.0);
  r.sd = std::sqrt(variance);
  r.standard_error = std::sqrt((1.0 / J + test_train_ratio) * variance);
  r.naive_standard_error = std::sqrt(variance / J);
  const double df = J - 1.0;
  if (r.standard_error > 0) {
    r.t = r.mean_difference / r.standard_error;
    r.p_value = 2.0 * student_t_cdf(-std::abs(r.t), df);
  } else {  // every fold gave the same difference: no spread to judge it by
    r.t = r.mean_difference == 0
              ? 0.0
              : std::copysign(std::numeric_limits<double>::infinity(), r.mean_difference);
    r.p_value = r.mean_difference == 0 ? 1.0 : 0.0;
  }
  const double t975 = student_t_quantile(0.975, df), t80 = student_t_quantile(0.80, df);
  r.ci = {r.mean_difference - t975 * r.standard_error, r.mean_difference + t975 * r.standard_error};
  r.minimum_detectable = (t975 + t80) * r.standard_error;
  return r;
}

}  // namespace busi::tools
