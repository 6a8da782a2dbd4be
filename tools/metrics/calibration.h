// How far predicted probabilities can be taken at their word: negative log-likelihood, Brier
// score, expected calibration error and its reliability diagram, and temperature scaling (Guo et
// al. 2017), the one-scalar fix fitted on the validation subset.
#pragma once

#include <cstdint>
#include <vector>

#include "tools/formats/json_value.h"
#include "tools/metrics/bootstrap.h"

namespace busi::tools {

inline constexpr int kCalibrationBins = 15;  // equal-width confidence bins of the ECE reported

// softmax(z / T) of each row of logits, in double: T > 1 softens the probabilities, T < 1
// sharpens them, and the argmax (the predicted class) never changes.
std::vector<std::vector<double>> softmax_with_temperature(
    const std::vector<std::vector<float>>& logits, double temperature);

// Mean negative log-likelihood of the true class, computed from the logits (log-sum-exp in
// double), so that a confident mistake costs its true -log p even when p underflows a float.
double nll_from_logits(const std::vector<std::vector<float>>& logits,
                       const std::vector<int64_t>& labels, double temperature = 1.0);

// The temperature minimising the NLL of softmax(z / T) over (logits, labels). With b = 1 / T,
// NLL(b) = mean_i [ logsumexp_k(b z_ik) - b z_iy ] is convex in b (a log-sum-exp of linear
// functions minus a linear function), so golden-section search on b finds its minimum. The
// search runs over T in [0.05, 20]; a minimum at an end is returned there.
double fit_temperature(const std::vector<std::vector<float>>& logits,
                       const std::vector<int64_t>& labels);

// One bin of a reliability diagram: the samples whose confidence (the largest probability) is in
// [lower, upper); the last bin includes 1.
struct ReliabilityBin {
  double lower = 0.0, upper = 0.0;
  int64_t count = 0;
  double mean_confidence = 0.0;  // 0 when the bin is empty
  double accuracy = 0.0;         // fraction whose argmax is the true class; 0 when empty
};

struct CalibrationScores {
  int64_t n = 0;
  double nll = 0.0;    // mean -log p(true class)
  double brier = 0.0;  // mean over samples of sum_k (p_k - [k = y])^2, in [0, 2]
  // ECE = sum_b (n_b / n) |accuracy_b - confidence_b| over equal-width confidence bins.
  double ece = 0.0;
  Interval nll_ci, brier_ci, ece_ci;  // 95 % bootstrap over the samples
  std::vector<ReliabilityBin> bins;
  // ECE is biased upwards on few samples: a model calibrated perfectly still shows one, because
  // each bin's accuracy is estimated from its few images. This is that floor for these
  // probabilities: the mean and 95 % range of the ECE when every label is drawn from the
  // model's own probabilities (`rounds` draws; NaN when rounds = 0). An ECE inside the range
  // is indistinguishable from perfect calibration on this many images.
  double ece_if_calibrated = 0.0;
  Interval ece_if_calibrated_range;
};

// The ECE of perfectly calibrated predictions with these probabilities (labels drawn from them,
// `rounds` times, a seeded Philox stream): its mean and its 2.5th-97.5th percentiles.
double ece_under_perfect_calibration(const std::vector<std::vector<double>>& probs, int bins,
                                     int rounds, uint64_t seed, Interval* range);

// The three scores of probabilities (rows summing to 1) against labels, ECE over `bins`
// equal-width bins, with percentile-bootstrap intervals (`rounds` = 0: NaN intervals). NLL from
// probabilities clamps p at 1e-300; nll_from_logits is exact and preferred when logits exist
// (score_logits below uses it).
CalibrationScores score_probabilities(const std::vector<std::vector<double>>& probs,
                                      const std::vector<int64_t>& labels, int bins = 15,
                                      int rounds = 1000, uint64_t seed = 0);
CalibrationScores score_logits(const std::vector<std::vector<float>>& logits,
                               const std::vector<int64_t>& labels, double temperature,
                               int bins = 15, int rounds = 1000, uint64_t seed = 0);

// {"n", "nll", "nll_ci95", "brier", "brier_ci95", "ece", "ece_ci95", "ece_if_calibrated",
// "ece_if_calibrated_range95", "reliability": [{"lower",
// "upper", "count", "mean_confidence", "accuracy"}...]}.
Json calibration_to_json(const CalibrationScores& s);

}  // namespace busi::tools
