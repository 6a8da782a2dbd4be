// ROC-AUC as the Mann-Whitney statistic, and the ROC curve's corner points (see roc.h).
#include "tools/metrics/roc.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/common/error.h"

namespace busi::tools {

// AUC = P(score of a random positive > score of a random negative) + 1/2 P(equal), which is the
// Mann-Whitney U statistic divided by n_pos * n_neg. With midranks r_i (ties share the mean of
// the ranks they span), U = sum of positives' ranks - n_pos (n_pos + 1) / 2.
double roc_auc(const std::vector<int>& positive, const std::vector<float>& scores) {
  BUSI_CHECK(positive.size() == scores.size(), "roc_auc: ", positive.size(), " labels but ",
             scores.size(), " scores");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });

  double positive_rank_sum = 0.0;
  int64_t n_pos = 0;
  for (size_t start = 0; start < n;) {
    size_t end = start;  // [start, end) is a run of equal scores
    while (end < n && scores[order[end]] == scores[order[start]]) ++end;
    const double midrank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2.0;
    for (size_t i = start; i < end; ++i)
      if (positive[order[i]] != 0) {
        positive_rank_sum += midrank;
        ++n_pos;
      }
    start = end;
  }
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::nan("");
  const double p = static_cast<double>(n_pos);
  const double u = positive_rank_sum - p * (p + 1) / 2.0;
  return u / (p * static_cast<double>(n_neg));
}

// Lowering the threshold from +inf past each distinct score adds every sample with that score
// at once, so tied scores give one diagonal step rather than a staircase.
std::vector<RocPoint> roc_curve(const std::vector<int>& positive,
                                const std::vector<float>& scores) {
  BUSI_CHECK(positive.size() == scores.size(), "roc_curve: ", positive.size(), " labels but ",
             scores.size(), " scores");
  const size_t n = scores.size();
  int64_t n_pos = 0;
  for (const int p : positive) n_pos += p != 0;
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return {};  // one of the rates is undefined

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<RocPoint> points{{0.0, 0.0}};
  int64_t tp = 0, fp = 0;
  for (size_t start = 0; start < n;) {
    size_t end = start;
    while (end < n && scores[order[end]] == scores[order[start]]) ++end;
    for (size_t i = start; i < end; ++i) (positive[order[i]] != 0 ? tp : fp) += 1;
    points.push_back({static_cast<double>(fp) / static_cast<double>(n_neg),
                      static_cast<double>(tp) / static_cast<double>(n_pos)});
    start = end;
  }
  return points;
}

}  // namespace busi::tools
