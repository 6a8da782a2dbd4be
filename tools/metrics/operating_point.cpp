// Sensitivity, specificity and the threshold for a target sensitivity (see operating_point.h).
#include "tools/metrics/operating_point.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"

namespace busi::tools {

namespace {

struct Counts {
  int64_t tp = 0, fn = 0, tn = 0, fp = 0;
};

Counts count_over(const std::vector<int>& positive, const std::vector<int>& flagged,
                  const std::vector<int64_t>& idx) {
  Counts c;
  for (const int64_t i : idx) {
    const auto s = static_cast<size_t>(i);
    if (positive[s])
      (flagged[s] ? c.tp : c.fn)++;
    else
      (flagged[s] ? c.fp : c.tn)++;
  }
  return c;
}

double ratio(int64_t num, int64_t den) {
  return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : std::nan("");
}

std::vector<int> is_class(const std::vector<int64_t>& labels, int64_t c) {
  std::vector<int> out;
  for (const int64_t y : labels) out.push_back(y == c);
  return out;
}

std::vector<double> column(const std::vector<std::vector<double>>& probs, int64_t c) {
  std::vector<double> out;
  for (const auto& p : probs) out.push_back(p.at(static_cast<size_t>(c)));
  return out;
}

std::vector<int> at_least(const std::vector<double>& scores, double threshold) {
  std::vector<int> out;
  for (const double s : scores) out.push_back(s >= threshold);
  return out;
}

std::vector<int> argmax_is(const std::vector<std::vector<double>>& probs, int64_t c) {
  std::vector<int> out;
  for (const auto& p : probs)  // the first maximum on ties, as argmax_predictions does
    out.push_back(std::max_element(p.begin(), p.end()) - p.begin() == c);
  return out;
}

Json rates_json(const BinaryRates& r) {
  Json j = Json::object();
  j["tp"] = r.tp;
  j["fn"] = r.fn;
  j["tn"] = r.tn;
  j["fp"] = r.fp;
  j["sensitivity"] = r.sensitivity;
  j["sensitivity_ci95"] = interval_json(r.sensitivity_ci);
  j["specificity"] = r.specificity;
  j["specificity_ci95"] = interval_json(r.specificity_ci);
  return j;
}

}  // namespace

BinaryRates binary_rates(const std::vector<int>& positive, const std::vector<int>& flagged,
                         int rounds, uint64_t seed) {
  BUSI_CHECK(positive.size() == flagged.size(), "binary_rates: ", positive.size(), " truths for ",
             flagged.size(), " decisions");
  std::vector<int64_t> all(positive.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const Counts c = count_over(positive, flagged, all);
  BinaryRates r;
  r.tp = c.tp;
  r.fn = c.fn;
  r.tn = c.tn;
  r.fp = c.fp;
  r.sensitivity = ratio(c.tp, c.tp + c.fn);
  r.specificity = ratio(c.tn, c.tn + c.fp);
  const std::vector<Interval> cis = bootstrap_intervals(
      static_cast<int64_t>(all.size()), rounds, seed, [&](const std::vector<int64_t>& idx) {
        const Counts s = count_over(positive, flagged, idx);
        return std::vector{ratio(s.tp, s.tp + s.fn), ratio(s.tn, s.tn + s.fp)};
      });
  const Interval none{std::nan(""), std::nan("")};
  r.sensitivity_ci = cis.size() == 2 ? cis[0] : none;
  r.specificity_ci = cis.size() == 2 ? cis[1] : none;
  return r;
}

double threshold_for_sensitivity(const std::vector<int>& positive,
                                 const std::vector<double>& scores, double target) {
  BUSI_CHECK(positive.size() == scores.size(), "threshold_for_sensitivity: ", positive.size(),
             " truths for ", scores.size(), " scores");
  BUSI_CHECK(target > 0 && target <= 1,
             "threshold_for_sensitivity: the target must be in (0, 1], "
             "got ",
             target);
  std::vector<double> positives;
  for (size_t i = 0; i < scores.size(); ++i)
    if (positive[i]) positives.push_back(scores[i]);
  BUSI_CHECK(!positives.empty(),
             "threshold_for_sensitivity: no positive sample to choose a threshold on");
  // Flagging score >= t catches every positive scored t or more. Sorted from the top, the
  // positive at rank m is the highest threshold that catches m of the P validation positives.
  // For a new positive exchangeable with them, the chance of scoring at least that is
  // m / (P + 1) (its rank among the P + 1 is uniform), so m = ceil(target (P + 1)) aims the
  // sensitivity on new images at the target (the split-conformal quantile); m = ceil(target P)
  // would aim at ceil(target P) / (P + 1), 19/22 = 0.864 for 90 % of 21. When m would pass P
  // (fewer than target / (1 - target) positives) the lowest positive is taken and the target is
  // not guaranteed. The small tolerance keeps 0.9 * 10 from becoming 9.000000000000002 -> 10.
  std::sort(positives.begin(), positives.end(), std::greater<>());
  const size_t P = positives.size();
  const auto wanted = static_cast<size_t>(std::ceil(target * static_cast<double>(P + 1) - 1e-9));
  return positives[std::clamp<size_t>(wanted, 1, P) - 1];
}

OperatingPoint operating_point_at(int64_t c, const std::string& class_name, double threshold,
                                  double target, const std::vector<int64_t>& test_labels,
                                  const std::vector<std::vector<double>>& test_probs, int rounds,
                                  uint64_t seed) {
  BUSI_CHECK(test_labels.size() == test_probs.size(), "operating point: ", test_labels.size(),
             " labels for ", test_probs.size(), " rows of probabilities");
  OperatingPoint p;
  p.class_name = class_name;
  p.class_index = c;
  p.target_sensitivity = target;
  p.threshold = threshold;
  const std::vector<int> positive = is_class(test_labels, c);
  p.at_decision = binary_rates(positive, argmax_is(test_probs, c), rounds, seed);
  p.at_threshold = binary_rates(positive, at_least(column(test_probs, c), threshold), rounds, seed);
  return p;
}

OperatingPoint operating_point(int64_t c, const std::string& class_name,
                               const std::vector<int64_t>& val_labels,
                               const std::vector<std::vector<double>>& val_probs,
                               const std::vector<int64_t>& test_labels,
                               const std::vector<std::vector<double>>& test_probs, double target,
                               int rounds, uint64_t seed) {
  BUSI_CHECK(val_labels.size() == val_probs.size(), "operating point: ", val_labels.size(),
             " validation labels for ", val_probs.size(), " rows of probabilities");
  const std::vector<int> val_positive = is_class(val_labels, c);
  const std::vector<double> val_scores = column(val_probs, c);
  const double threshold = threshold_for_sensitivity(val_positive, val_scores, target);
  OperatingPoint p =
      operating_point_at(c, class_name, threshold, target, test_labels, test_probs, rounds, seed);
  p.on_validation = binary_rates(val_positive, at_least(val_scores, threshold), 0, seed);
  return p;
}

Json operating_point_to_json(const OperatingPoint& p) {
  Json j = Json::object();
  j["class"] = p.class_name;
  j["default_decision"] = rates_json(p.at_decision);
  j["default_decision_rule"] = "the class with the highest probability (argmax)";
  j["target_sensitivity"] = p.target_sensitivity;
  j["threshold"] = p.threshold;
  j["threshold_rule"] =
      "flag when the calibrated probability of the class is >= threshold; the threshold is the "
      "score of the validation positive at rank ceil(target (P + 1)) from the top, P positives "
      "(the split-conformal quantile: a new positive reaches it with probability >= target)";
  j["validation"] = rates_json(p.on_validation);
  j["at_threshold"] = rates_json(p.at_threshold);
  return j;
}

}  // namespace busi::tools
