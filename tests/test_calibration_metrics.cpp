// Calibration scores and temperature scaling (tools/metrics/calibration.h) and the operating point
// of one class against the rest (tools/metrics/operating_point.h), on cases worked out by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/random.h"
#include "kernels/common/error.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/operating_point.h"

using namespace busi;
using namespace busi::tools;

TEST_CASE("NLL, Brier and ECE on a hand-worked example") {
  // Two samples, logits (0, ln 3) and (ln 2, 0): softmax (1/4, 3/4) and (2/3, 1/3).
  const std::vector<std::vector<float>> logits = {{0.0f, std::log(3.0f)}, {std::log(2.0f), 0.0f}};
  const std::vector<int64_t> labels = {1, 1};
  // NLL = -(ln 3/4 + ln 1/3) / 2.
  CHECK(nll_from_logits(logits, labels) ==
        doctest::Approx(-(std::log(0.75) + std::log(1.0 / 3.0)) / 2).epsilon(1e-6));
  // T = 2 halves the logits: softmax (1, sqrt 3) / (1 + sqrt 3) for the first sample.
  const auto soft = softmax_with_temperature(logits, 2.0);
  CHECK(soft[0][1] == doctest::Approx(std::sqrt(3.0) / (1 + std::sqrt(3.0))).epsilon(1e-6));
  CHECK(soft[0][0] + soft[0][1] == doctest::Approx(1.0));

  const CalibrationScores s = score_logits(logits, labels, 1.0, 4, 0);
  // Brier: (1/4)^2 + (1/4)^2 = 1/8 for the first, (2/3)^2 + (2/3)^2 = 8/9 for the second.
  CHECK(s.brier == doctest::Approx((1.0 / 8 + 8.0 / 9) / 2).epsilon(1e-6));
  // ECE, 4 bins: confidence 3/4 (right) in [0.75, 1), 2/3 (wrong) in [0.5, 0.75):
  // (|1 - 3/4| + |0 - 2/3|) / 2.
  CHECK(s.ece == doctest::Approx((0.25 + 2.0 / 3) / 2).epsilon(1e-6));
  REQUIRE(s.bins.size() == 4);
  CHECK(s.bins[3].count == 1);
  CHECK(s.bins[3].accuracy == 1.0);
  CHECK(s.bins[2].count == 1);
  CHECK(s.bins[2].mean_confidence == doctest::Approx(2.0 / 3));
  CHECK(s.bins[0].count + s.bins[1].count == 0);
  CHECK(std::isnan(s.ece_ci.low));  // no bootstrap asked for
}

TEST_CASE("NLL, Brier and ECE of probabilities, four samples in two of five bins") {
  // Confidences 0.9 (right) and 0.85 (right) fall in [0.8, 1), 0.7 (wrong) and 0.65 (right) in
  // [0.6, 0.8). ECE = (2 |1 - 0.875| + 2 |0.5 - 0.675|) / 4 = (0.25 + 0.35) / 4 = 0.15.
  const std::vector<std::vector<double>> probs = {
      {0.9, 0.1}, {0.7, 0.3}, {0.15, 0.85}, {0.65, 0.35}};
  const std::vector<int64_t> labels = {0, 1, 1, 0};
  const CalibrationScores s = score_probabilities(probs, labels, 5, 0);
  CHECK(s.ece == doctest::Approx(0.15));
  REQUIRE(s.bins.size() == 5);
  CHECK(s.bins[4].count == 2);
  CHECK(s.bins[4].mean_confidence == doctest::Approx(0.875));
  CHECK(s.bins[4].accuracy == 1.0);
  CHECK(s.bins[3].count == 2);
  CHECK(s.bins[3].accuracy == 0.5);
  CHECK(s.bins[3].lower == doctest::Approx(0.6));
  CHECK(s.bins[0].count + s.bins[1].count + s.bins[2].count == 0);
  // Brier: 2 (0.1^2) + 2 (0.7^2) + 2 (0.15^2) + 2 (0.35^2) = 0.02 + 0.98 + 0.045 + 0.245, over 4.
  CHECK(s.brier == doctest::Approx(1.29 / 4));
  CHECK(s.nll ==
        doctest::Approx(-(std::log(0.9) + std::log(0.3) + std::log(0.85) + std::log(0.65)) / 4));
  // With a bootstrap the point values stay and the intervals hold them.
  const CalibrationScores b = score_probabilities(probs, labels, 5, 300, 7);
  CHECK(b.ece == doctest::Approx(s.ece));
  CHECK(b.ece_ci.low <= b.ece);
  CHECK(b.ece_ci.high >= b.ece);
}

TEST_CASE("fit_temperature recovers the temperature the labels were drawn with") {
  // Labels drawn from softmax(z / 2.5): the NLL's minimum is near T = 2.5.
  Generator gen(11);
  std::vector<std::vector<float>> logits;
  std::vector<int64_t> labels;
  for (int i = 0; i < 20000; ++i) {
    std::vector<float> z = {static_cast<float>(3 * gen.normal()),
                            static_cast<float>(3 * gen.normal()),
                            static_cast<float>(3 * gen.normal())};
    const std::vector<double> p = softmax_with_temperature({z}, 2.5)[0];
    const double u = gen.uniform();
    labels.push_back(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2);
    logits.push_back(z);
  }
  const double t = fit_temperature(logits, labels);
  CHECK(std::abs(t - 2.5) < 0.1);
  // It is the minimum: a little either way is worse.
  CHECK(nll_from_logits(logits, labels, t) < nll_from_logits(logits, labels, t * 1.1));
  CHECK(nll_from_logits(logits, labels, t) < nll_from_logits(logits, labels, t / 1.1));
  // Scaled down, ECE improves on the overconfident raw probabilities.
  CHECK(score_logits(logits, labels, t, 15, 0).ece < score_logits(logits, labels, 1.0, 15, 0).ece);
}

TEST_CASE("threshold for 90 % sensitivity, and the rates at a decision") {
  // Nineteen positives scored 0.95, 0.90, ..., 0.05 and five negatives. The split-conformal
  // rank is ceil(0.9 x 20) = 18 (ceil(0.9 x 19) = 18 too would aim at 18/20 = 0.90 here; with
  // 21 positives the two ranks are 20 and 19: below).
  std::vector<int> positive;
  std::vector<double> scores;
  for (int i = 0; i < 19; ++i) positive.push_back(1), scores.push_back(0.95 - 0.05 * i);
  for (double s : {0.97, 0.5, 0.22, 0.12, 0.02}) positive.push_back(0), scores.push_back(s);
  const double t = threshold_for_sensitivity(positive, scores, 0.9);
  CHECK(t == doctest::Approx(0.10));  // the 18th highest positive: 18 of 19 caught
  std::vector<int> flagged;
  for (double s : scores) flagged.push_back(s >= t - 1e-12);
  const BinaryRates r = binary_rates(positive, flagged, 200, 3);
  CHECK(r.tp == 18);
  CHECK(r.fn == 1);
  CHECK(r.fp == 4);  // 0.97, 0.5, 0.22 and 0.12: four negatives at 0.1 or more
  CHECK(r.tn == 1);
  CHECK(r.sensitivity == doctest::Approx(18.0 / 19));
  CHECK(r.specificity == doctest::Approx(1.0 / 5));
  CHECK(r.sensitivity_ci.low <= 18.0 / 19);
  CHECK(r.sensitivity_ci.high >= 18.0 / 19);
  // 21 positives (the folds' validation subsets): rank 20, not ceil(0.9 x 21) = 19, which would
  // catch a new positive with probability 19/22 = 0.864 only.
  std::vector<int> p21(21, 1);
  std::vector<double> s21;
  for (int i = 0; i < 21; ++i) s21.push_back(1.0 - 0.01 * i);
  CHECK(threshold_for_sensitivity(p21, s21, 0.9) == doctest::Approx(1.0 - 0.01 * 19));
  // 100 % asks for the lowest positive (the rank capped at P); no positive at all is an error.
  CHECK(threshold_for_sensitivity(positive, scores, 1.0) == doctest::Approx(0.05));
  CHECK_THROWS_AS(threshold_for_sensitivity({0, 0}, {0.3, 0.6}, 0.9), Error);
}

TEST_CASE("operating point: argmax decision and threshold from validation, on test") {
  // Classes benign 0, malignant 1, normal 2. Validation: malignant probabilities 0.9, 0.6, 0.3.
  const std::vector<int64_t> val_labels = {1, 1, 1, 0};
  REQUIRE(val_labels.back() == 0);
  const std::vector<std::vector<double>> val_probs = {
      {0.05, 0.9, 0.05}, {0.3, 0.6, 0.1}, {0.6, 0.3, 0.1}, {0.8, 0.1, 0.1}};
  const std::vector<int64_t> test_labels = {1, 1, 0, 2};
  const std::vector<std::vector<double>> test_probs = {
      {0.2, 0.7, 0.1}, {0.55, 0.35, 0.1}, {0.5, 0.4, 0.1}, {0.1, 0.2, 0.7}};
  const OperatingPoint p =
      operating_point(1, "malignant", val_labels, val_probs, test_labels, test_probs, 0.9, 0);
  CHECK(p.threshold == doctest::Approx(0.3));  // ceil(0.9 * 4) = 4, capped at 3: the lowest
  CHECK(p.on_validation.sensitivity == 1.0);
  // Test at the argmax: only the first image is flagged.
  CHECK(p.at_decision.tp == 1);
  CHECK(p.at_decision.fn == 1);
  CHECK(p.at_decision.fp == 0);
  // At >= 0.3: both malignant images and the benign one at 0.4 are flagged.
  CHECK(p.at_threshold.tp == 2);
  CHECK(p.at_threshold.fp == 1);
  CHECK(p.at_threshold.tn == 1);
  const Json j = operating_point_to_json(p);
  CHECK(j.at("at_threshold").at("sensitivity").as_number() == 1.0);
  CHECK(j.at("threshold").as_number() == doctest::Approx(0.3));
}
