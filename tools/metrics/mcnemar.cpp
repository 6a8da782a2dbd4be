// McNemar's exact test on two models' paired predictions (see mcnemar.h).
#include "tools/metrics/mcnemar.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"

namespace busi::tools {

// Under H0 (both models err equally often on the samples where they disagree), each of the
// n = b + c discordant samples is a fair coin: b ~ Binomial(n, 1/2). The two-sided p-value
// doubles the smaller tail: p = min(1, 2 sum_{i=0}^{min(b,c)} C(n, i) / 2^n), each term computed
// in logs (lgamma) so that 2^n does not overflow.
double binomial_two_sided_p(int64_t k, int64_t n) {
  BUSI_CHECK(n >= 0 && k >= 0 && k <= n, "binomial_two_sided_p: need 0 <= k <= n, got k = ", k,
             ", n = ", n);
  if (n == 0) return 1.0;
  const int64_t smaller = std::min(k, n - k);
  const auto log_choose = [&](int64_t i) {
    return std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(i + 1)) -
           std::lgamma(static_cast<double>(n - i + 1));
  };
  double tail = 0.0;
  for (int64_t i = 0; i <= smaller; ++i)
    tail += std::exp(log_choose(i) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2.0 * tail);
}

McNemarResult mcnemar(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                      const std::vector<int64_t>& pred_b) {
  BUSI_CHECK(labels.size() == pred_a.size() && labels.size() == pred_b.size(),
             "mcnemar: ", labels.size(), " labels, ", pred_a.size(), " and ", pred_b.size(),
             " predictions");
  McNemarResult r;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool a_right = pred_a[i] == labels[i], b_right = pred_b[i] == labels[i];
    r.a_right_b_wrong += a_right && !b_right;
    r.a_wrong_b_right += !a_right && b_right;
  }
  const int64_t b = r.a_right_b_wrong, c = r.a_wrong_b_right;
  if (b + c > 0) {
    // Edwards' continuity correction; |b - c| - 1 is floored at 0 so that b = c gives 0.
    const double gap = std::max(0.0, std::abs(static_cast<double>(b - c)) - 1.0);
    r.statistic = gap * gap / static_cast<double>(b + c);
  }
  r.p_value = binomial_two_sided_p(b, b + c);
  return r;
}

}  // namespace busi::tools
