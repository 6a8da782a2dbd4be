// Percentile-bootstrap confidence intervals: resamples of the samples drawn with replacement from
// a seeded Philox stream, so that the same seed gives the same interval on every machine.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tools/formats/json_value.h"

namespace busi::tools {

struct Interval {
  double low = 0.0, high = 0.0;  // a 95 % percentile-bootstrap interval
};

// The interval as metrics.json and results.json write it: [low, high] (NaN as null).
Json interval_json(const Interval& ci);

// The q-quantile of sorted values (not empty), interpolating linearly between order
// statistics: position h = (N - 1) q, value = v[floor h] + (h - floor h) (v[floor h + 1] -
// v[floor h]).
double quantile_of_sorted(const std::vector<double>& sorted, double q);

// Percentile bootstrap: `rounds` resamples of the indices 0..n-1 drawn with replacement (a Philox
// stream seeded with `seed`, so the same seed gives the same resamples on every machine);
// statistic(indices) is evaluated on each and the 2.5th and 97.5th percentiles of those values
// (linear interpolation between order statistics) are returned. NaN values of the statistic
// (e.g. an AUC on a resample without positives) are left out. rounds = 0 gives [NaN, NaN].
Interval bootstrap_interval(int64_t n, int rounds, uint64_t seed,
                            const std::function<double(const std::vector<int64_t>&)>& statistic);
// The same for several statistics at once, all evaluated on the same resamples (interval i is
// that of component i of the returned vectors, which must all have the same length).
std::vector<Interval> bootstrap_intervals(
    int64_t n, int rounds, uint64_t seed,
    const std::function<std::vector<double>(const std::vector<int64_t>&)>& statistics);

// The same with whole groups resampled: group_of_row[i] is the group (a near-duplicate group, or
// the image alone) of row i; each resample draws as many groups as there are, with replacement,
// and takes all rows of each drawn group. Rows of one group share a scan, so their errors are not
// independent, and resampling them one by one would make the intervals too narrow.
std::vector<Interval> group_bootstrap_intervals(
    const std::vector<int64_t>& group_of_row, int rounds, uint64_t seed,
    const std::function<std::vector<double>(const std::vector<int64_t>&)>& statistics);

}  // namespace busi::tools
