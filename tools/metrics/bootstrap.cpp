// Percentile-bootstrap intervals (see bootstrap.h).
#include "tools/metrics/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/common/error.h"
#include "engine/random.h"

namespace busi::tools {

Json interval_json(const Interval& ci) { return std::vector<double>{ci.low, ci.high}; }

double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<Interval> bootstrap_intervals(
    int64_t n, int rounds, uint64_t seed,
    const std::function<std::vector<double>(const std::vector<int64_t>&)>& statistics) {
  std::vector<std::vector<double>> samples;  // samples[i] = the values of statistic i
  if (rounds > 0 && n > 0) {
    Generator gen(seed);
    std::vector<int64_t> indices(static_cast<size_t>(n));
    for (int r = 0; r < rounds; ++r) {
      for (auto& i : indices) i = gen.randint(n);
      const std::vector<double> values = statistics(indices);
      if (samples.empty()) samples.resize(values.size());
      BUSI_CHECK(values.size() == samples.size(), "bootstrap: the statistic returned ",
                 values.size(), " values, earlier ", samples.size());
      for (size_t i = 0; i < values.size(); ++i)
        if (!std::isnan(values[i])) samples[i].push_back(values[i]);
    }
  }
  std::vector<Interval> intervals;
  for (auto& values : samples) {
    if (values.empty()) {
      intervals.push_back({std::nan(""), std::nan("")});
      continue;
    }
    std::sort(values.begin(), values.end());
    intervals.push_back({quantile_of_sorted(values, 0.025), quantile_of_sorted(values, 0.975)});
  }
  return intervals;
}

std::vector<Interval> group_bootstrap_intervals(
    const std::vector<int64_t>& group_of_row, int rounds, uint64_t seed,
    const std::function<std::vector<double>(const std::vector<int64_t>&)>& statistics) {
  // The rows of each group, groups numbered 0..G-1 in the order they first appear.
  std::map<int64_t, int64_t> number;
  std::vector<std::vector<int64_t>> rows_of;
  for (size_t i = 0; i < group_of_row.size(); ++i) {
    const auto [it, added] =
        number.try_emplace(group_of_row[i], static_cast<int64_t>(rows_of.size()));
    if (added) rows_of.emplace_back();
    rows_of[static_cast<size_t>(it->second)].push_back(static_cast<int64_t>(i));
  }
  // A resample of the groups, expanded into their rows.
  return bootstrap_intervals(static_cast<int64_t>(rows_of.size()), rounds, seed,
                             [&](const std::vector<int64_t>& groups) {
                               std::vector<int64_t> rows;
                               for (int64_t g : groups)
                                 rows.insert(rows.end(), rows_of[static_cast<size_t>(g)].begin(),
                                             rows_of[static_cast<size_t>(g)].end());
                               return statistics(rows);
                             });
}

Interval bootstrap_interval(int64_t n, int rounds, uint64_t seed,
                            const std::function<double(const std::vector<int64_t>&)>& statistic) {
  const std::vector<Interval> one = bootstrap_intervals(
      n, rounds, seed,
      [&](const std::vector<int64_t>& idx) { return std::vector{statistic(idx)}; });
  return one.empty() ? Interval{std::nan(""), std::nan("")} : one[0];
}

}  // namespace busi::tools
