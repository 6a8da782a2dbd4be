// One class read against the rest as a clinician reads a test: sensitivity (the share of that
// class's images flagged) and specificity (the share of the others not flagged), at the model's
// own decision or at a threshold on the class's probability chosen on the validation subset for
// a target sensitivity. Used for the malignant class.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/formats/json_value.h"
#include "tools/metrics/bootstrap.h"

namespace busi::tools {

// The class read against the rest in metrics.json and the report, and the sensitivity its
// threshold is chosen for on validation.
inline constexpr const char* kMalignantClass = "malignant";
inline constexpr double kMalignantSensitivity = 0.9;

struct BinaryRates {
  int64_t tp = 0, fn = 0, tn = 0, fp = 0;
  double sensitivity = 0.0;                 // tp / (tp + fn); NaN without positives
  double specificity = 0.0;                 // tn / (tn + fp); NaN without negatives
  Interval sensitivity_ci, specificity_ci;  // 95 % bootstrap over the samples
};

// Rates of binary decisions flagged[i] against positive[i], with bootstrap intervals (resamples
// without positives, or without negatives, leave that rate out).
BinaryRates binary_rates(const std::vector<int>& positive, const std::vector<int>& flagged,
                         int rounds = 1000, uint64_t seed = 0);

// The threshold t on scores such that flagging score >= t reaches `target` sensitivity (e.g.
// 0.9) on new samples like these: the score of the positive at rank ceil(target (P + 1)) from
// the top (at most P), the split-conformal quantile; on these samples it catches at least the
// target.
// Throws busi::Error when there is no positive sample.
double threshold_for_sensitivity(const std::vector<int>& positive,
                                 const std::vector<double>& scores, double target);

// The operating point of one class as metrics.json and the report give it.
struct OperatingPoint {
  std::string class_name;
  int64_t class_index = -1;
  BinaryRates at_decision;  // flagged when the class is the argmax
  double target_sensitivity = 0.9;
  double threshold = 0.0;     // chosen on validation
  BinaryRates on_validation;  // at the threshold, on the validation subset (no interval)
  BinaryRates at_threshold;   // at the threshold, on the test subset
};

// class `c` against the rest: the test rates at the argmax decision and at the threshold chosen
// on the validation scores (probabilities of class c) for `target` sensitivity.
OperatingPoint operating_point(int64_t c, const std::string& class_name,
                               const std::vector<int64_t>& val_labels,
                               const std::vector<std::vector<double>>& val_probs,
                               const std::vector<int64_t>& test_labels,
                               const std::vector<std::vector<double>>& test_probs, double target,
                               int rounds = 1000, uint64_t seed = 0);

// The test rates of class c at a given threshold and at the argmax (for the report, which
// recomputes them from predictions.csv).
OperatingPoint operating_point_at(int64_t c, const std::string& class_name, double threshold,
                                  double target, const std::vector<int64_t>& test_labels,
                                  const std::vector<std::vector<double>>& test_probs,
                                  int rounds = 1000, uint64_t seed = 0);

// {"class", "default_decision": rates, "target_sensitivity", "threshold", "validation": rates,
// "at_threshold": rates}; rates are {"tp", "fn", "tn", "fp", "sensitivity", "sensitivity_ci95",
// "specificity", "specificity_ci95"}.
Json operating_point_to_json(const OperatingPoint& p);

}  // namespace busi::tools
