// The corrected resampled t-test (Nadeau & Bengio 2003; in its repeated k-fold form, Bouckaert &
// Frank 2004): is model B better than model A, judged on J = K x R paired fold scores? The folds
// share most of their training images, so their scores are correlated and the plain paired
// t-test's variance sigma^2 / J is far too small; the correction adds n_test / n_train:
//
//   t = mean(d) / sqrt((1 / J + n_test / n_train) s^2),   d_j = B_j - A_j,  s^2 their sample
//   variance, compared with Student's t with J - 1 degrees of freedom.
//
// Also the smallest difference the run could have detected: with 80 % power at the 5 % level
// (two-sided), (t_{0.975, J-1} + t_{0.80, J-1}) times the corrected standard error.
#pragma once

#include <cstdint>
#include <vector>

#include "tools/metrics/bootstrap.h"

namespace busi::tools {

// P(T <= t) for Student's t with `df` > 0 degrees of freedom, through the regularised incomplete
// beta function: P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
double student_t_cdf(double t, double df);
// The p-quantile of Student's t (p in (0, 1)), by bisection on student_t_cdf.
double student_t_quantile(double p, double df);

struct CorrectedTTest {
  int64_t n = 0;                    // J, the paired fold scores
  double mean_difference = 0;       // mean of B_j - A_j
  double sd = 0;                    // their sample standard deviation (J - 1)
  double test_train_ratio = 0;      // n_test / n_train of one fold
  double standard_error = 0;        // sqrt((1 / J + ratio) s^2)
  double naive_standard_error = 0;  // sqrt(s^2 / J), the uncorrected one, for comparison
  double t = 0;
  double p_value = 1;             // two-sided, J - 1 degrees of freedom; 1 when s = 0 and mean = 0
  Interval ci;                    // 95 %: mean +- t_{0.975, J-1} standard_error
  double minimum_detectable = 0;  // 80 % power, 5 % two-sided
};

// The test of b against a (the same folds, in the same order; at least two). Throws busi::Error
// on fewer than two scores, mismatched lengths or a ratio that is not positive.
CorrectedTTest corrected_resampled_t_test(const std::vector<double>& a,
                                          const std::vector<double>& b, double test_train_ratio);

}  // namespace busi::tools
