// McNemar's test: do two models, tested on the same images, make errors equally often?
#pragma once

#include <cstdint>
#include <vector>

namespace busi::tools {

// McNemar's test on paired predictions of two models on the same samples:
// b = samples model A got right and B wrong, c = the reverse. Exact two-sided binomial p-value
// (b ~ Binomial(b + c, 1/2)); statistic = (|b - c| - 1)^2 / (b + c), the continuity-corrected
// chi-square, reported alongside.
struct McNemarResult {
  int64_t a_right_b_wrong = 0, a_wrong_b_right = 0;
  double statistic = 0.0;
  double p_value = 1.0;
};
McNemarResult mcnemar(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                      const std::vector<int64_t>& pred_b);

// The exact two-sided binomial test of k successes in n trials with p = 1/2:
// min(1, 2 * P(X <= min(k, n - k))), the p-value of McNemar's exact test. 1 when n = 0.
double binomial_two_sided_p(int64_t k, int64_t n);

}  // namespace busi::tools
