// Tests of the classification metrics against values computed by hand: confusion matrix,
// precision/recall/F1 (a class never predicted included), AUC with ties, ROC points, McNemar's
// exact test on a known table, and the bootstrap intervals.
#include <doctest/doctest.h>

#include <cmath>

#include "tools/formats/json_value.h"
#include "tools/metrics/bootstrap.h"
#include "tools/metrics/classification.h"
#include "tools/metrics/mcnemar.h"
#include "tools/metrics/resampled_t_test.h"
#include "tools/metrics/roc.h"

using namespace busi::tools;

namespace {

const std::vector<std::string> kClasses = {"benign", "malignant", "normal"};

// Probabilities whose argmax is `pred`: 0.7 on it, 0.15 on the others.
std::vector<std::vector<float>> probs_for(const std::vector<int64_t>& preds) {
  std::vector<std::vector<float>> probs;
  for (const int64_t p : preds) {
    std::vector<float> row(3, 0.15f);
    row[static_cast<size_t>(p)] = 0.7f;
    probs.push_back(row);
  }
  return probs;
}

// Area under a polyline of ROC points by the trapezoid rule.
double trapezoid_area(const std::vector<RocPoint>& points) {
  double area = 0.0;
  for (size_t i = 1; i < points.size(); ++i)
    area += (points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr) / 2.0;
  return area;
}

}  // namespace

TEST_CASE("confusion matrix, accuracy, precision, recall, F1 on a hand-computed example") {
  // true 0: predicted 0,0,1,2   true 1: predicted 1,1,0   true 2: predicted 2,2,1
  const std::vector<int64_t> labels = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
  const std::vector<int64_t> preds = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};
  const ClassificationMetrics m = compute_metrics(labels, probs_for(preds), kClasses, 0);

  CHECK(m.n == 10);
  const std::vector<std::vector<int64_t>> expected = {{2, 1, 1}, {1, 2, 0}, {0, 1, 2}};
  CHECK(m.confusion == expected);
  CHECK(m.accuracy == doctest::Approx(0.6));  // 6 on the diagonal of 10
  // Precision = diagonal / column sum: 2/3, 2/4, 2/3. Recall = diagonal / row sum: 2/4, 2/3, 2/3.
  CHECK(m.precision[0] == doctest::Approx(2.0 / 3));
  CHECK(m.precision[1] == doctest::Approx(0.5));
  CHECK(m.precision[2] == doctest::Approx(2.0 / 3));
  CHECK(m.recall[0] == doctest::Approx(0.5));
  CHECK(m.recall[1] == doctest::Approx(2.0 / 3));
  CHECK(m.recall[2] == doctest::Approx(2.0 / 3));
  // F1 = 2PR/(P+R): class 0: 2(2/3)(1/2)/(7/6) = 4/7; class 1 also 4/7; class 2: 2/3.
  CHECK(m.f1[0] == doctest::Approx(4.0 / 7));
  CHECK(m.f1[1] == doctest::Approx(4.0 / 7));
  CHECK(m.f1[2] == doctest::Approx(2.0 / 3));
  CHECK(m.macro_f1 == doctest::Approx(38.0 / 63));           // (4/7 + 4/7 + 2/3) / 3
  CHECK(m.balanced_accuracy == doctest::Approx(11.0 / 18));  // (1/2 + 2/3 + 2/3) / 3
  CHECK(m.support == std::vector<int64_t>{4, 3, 3});
}

TEST_CASE("a class absent from the predictions has precision 0 and F1 0 (documented convention)") {
  // Nobody is predicted "normal": its precision 0/0 is taken as 0, its recall is 0/2 = 0.
  const std::vector<int64_t> labels = {0, 0, 1, 1, 2, 2};
  const std::vector<int64_t> preds = {0, 0, 1, 1, 1, 0};
  const ClassificationMetrics m = compute_metrics(labels, probs_for(preds), kClasses, 0);
  CHECK(m.precision[2] == 0.0);
  CHECK(m.recall[2] == 0.0);
  CHECK(m.f1[2] == 0.0);
  // Classes 0 and 1: P = 2/3, R = 1, F1 = 2(2/3)/(5/3) = 0.8; macro-F1 = (0.8 + 0.8 + 0) / 3.
  CHECK(m.f1[0] == doctest::Approx(0.8));
  CHECK(m.f1[1] == doctest::Approx(0.8));
  CHECK(m.macro_f1 == doctest::Approx(1.6 / 3));
  CHECK(m.accuracy == doctest::Approx(4.0 / 6));
}

TEST_CASE("a class absent from the labels: AUC undefined, left out of macro AUC and balanced acc") {
  const std::vector<int64_t> labels = {0, 0, 1, 1};
  const std::vector<std::vector<float>> probs = {
      {0.8f, 0.1f, 0.1f}, {0.6f, 0.3f, 0.1f}, {0.2f, 0.7f, 0.1f}, {0.5f, 0.4f, 0.1f}};
  const ClassificationMetrics m = compute_metrics(labels, probs, kClasses, 0);
  CHECK(std::isnan(m.auc[2]));
  CHECK(m.recall[2] == 0.0);
  CHECK(m.balanced_accuracy == doctest::Approx((1.0 + 0.5) / 2));  // classes 0 and 1 only
  // Class 0 scores: positives {0.8, 0.6}, negatives {0.2, 0.5}: all 4 pairs ordered -> 1.
  CHECK(m.auc[0] == doctest::Approx(1.0));
  CHECK(m.macro_auc == doctest::Approx((m.auc[0] + m.auc[1]) / 2));
}

TEST_CASE("the prediction is the argmax, the first class on ties") {
  CHECK(argmax_predictions({{0.5f, 0.5f, 0.0f}, {0.1f, 0.2f, 0.7f}, {0.2f, 0.4f, 0.4f}}) ==
        std::vector<int64_t>{0, 2, 1});
}

TEST_CASE("ROC-AUC is the Mann-Whitney statistic with ties counted half") {
  const std::vector<int> positive = {1, 1, 0, 0, 1, 0};
  const std::vector<float> scores = {0.9f, 0.5f, 0.5f, 0.1f, 0.7f, 0.3f};
  // Positives {0.9, 0.7, 0.5} against negatives {0.5, 0.3, 0.1}: 0.9 and 0.7 beat all three
  // (6 pairs), 0.5 beats two and ties one (2.5): AUC = 8.5 / 9.
  CHECK(roc_auc(positive, scores) == doctest::Approx(8.5 / 9));
  CHECK(roc_auc({1, 0, 1, 0}, {0.4f, 0.4f, 0.4f, 0.4f}) == doctest::Approx(0.5));  // all tied
  CHECK(roc_auc({1, 1, 0, 0}, {0.9f, 0.8f, 0.2f, 0.1f}) == doctest::Approx(1.0));
  CHECK(roc_auc({0, 0, 1, 1}, {0.9f, 0.8f, 0.2f, 0.1f}) == doctest::Approx(0.0));
  CHECK(std::isnan(roc_auc({1, 1}, {0.3f, 0.6f})));  // no negative: undefined
}

TEST_CASE("ROC curve points, one per distinct threshold, and their area equals the AUC") {
  const std::vector<int> positive = {1, 1, 0, 0, 1, 0};
  const std::vector<float> scores = {0.9f, 0.5f, 0.5f, 0.1f, 0.7f, 0.3f};
  const std::vector<RocPoint> points = roc_curve(positive, scores);
  // Thresholds 0.9, 0.7, 0.5 (one positive and one negative at once), 0.3, 0.1.
  const std::vector<std::pair<double, double>> expected = {{0, 0},       {0, 1.0 / 3}, {0, 2.0 / 3},
                                                           {1.0 / 3, 1}, {2.0 / 3, 1}, {1, 1}};
  REQUIRE(points.size() == expected.size());
  for (size_t i = 0; i < points.size(); ++i) {
    CHECK(points[i].fpr == doctest::Approx(expected[i].first));
    CHECK(points[i].tpr == doctest::Approx(expected[i].second));
  }
  CHECK(trapezoid_area(points) == doctest::Approx(roc_auc(positive, scores)));
  CHECK(roc_curve({0, 0}, {0.1f, 0.2f}).empty());  // no positive: no curve
}

// Paired predictions of two classifiers: add(count, pa, pb) appends `count` samples of class
// `label` that A predicts as pa and B as pb (a McNemar table cell by cell).
struct PairedPredictions {
  int64_t label = 0;
  std::vector<int64_t> labels, a, b;
  void add(int count, int64_t pa, int64_t pb) {
    for (int i = 0; i < count; ++i) {
      labels.push_back(label);
      a.push_back(pa);
      b.push_back(pb);
    }
  }
};

TEST_CASE("McNemar on a known table: b = 10, c = 2") {
  // 20 samples: 6 both right, 10 only A right, 2 only B right, 2 both wrong. Label 0 always.
  PairedPredictions p;
  p.add(6, 0, 0);
  p.add(10, 0, 1);
  p.add(2, 2, 0);
  p.add(2, 1, 2);
  const McNemarResult r = mcnemar(p.labels, p.a, p.b);
  CHECK(r.a_right_b_wrong == 10);
  CHECK(r.a_wrong_b_right == 2);
  // By hand: n = 12, P(X <= 2) = (C(12,0) + C(12,1) + C(12,2)) / 2^12 = (1 + 12 + 66) / 4096
  // = 79/4096; two-sided p = 2 * 79/4096 = 158/4096 = 0.0385742...
  CHECK(r.p_value == doctest::Approx(158.0 / 4096).epsilon(1e-12));
  CHECK(r.p_value == doctest::Approx(0.0386).epsilon(0.001));
  // Continuity-corrected chi-square: (|10 - 2| - 1)^2 / 12 = 49/12.
  CHECK(r.statistic == doctest::Approx(49.0 / 12));
}

TEST_CASE("McNemar edge cases and the binomial tail") {
  CHECK(binomial_two_sided_p(0, 5) == doctest::Approx(2.0 / 32));  // 2 * (1/2)^5
  CHECK(binomial_two_sided_p(5, 5) == doctest::Approx(2.0 / 32));  // symmetric
  CHECK(binomial_two_sided_p(5, 10) == 1.0);                       // the middle: capped at 1
  CHECK(binomial_two_sided_p(0, 0) == 1.0);
  // Large n stays finite (2^n would overflow a double for n > 1023).
  const double p = binomial_two_sided_p(900, 2000);
  CHECK(p > 0.0);
  CHECK(p < 1e-5);
  const McNemarResult same = mcnemar({0, 1, 2}, {0, 1, 0}, {0, 1, 0});  // identical predictions
  CHECK(same.a_right_b_wrong == 0);
  CHECK(same.a_wrong_b_right == 0);
  CHECK(same.p_value == 1.0);
  CHECK(same.statistic == 0.0);
  CHECK_THROWS(mcnemar({0, 1}, {0}, {0, 1}));
}

TEST_CASE("bootstrap intervals contain the point estimate and are reproducible for a seed") {
  std::vector<int64_t> labels, preds;
  for (int i = 0; i < 90; ++i) {
    labels.push_back(i % 3);
    preds.push_back(i % 7 == 0 ? (i + 1) % 3 : i % 3);  // about 1 in 7 wrong
  }
  const ClassificationMetrics m1 = compute_metrics(labels, probs_for(preds), kClasses, 500, 7);
  const ClassificationMetrics m2 = compute_metrics(labels, probs_for(preds), kClasses, 500, 7);
  CHECK(m1.accuracy_ci.low <= m1.accuracy);
  CHECK(m1.accuracy <= m1.accuracy_ci.high);
  CHECK(m1.accuracy_ci.low < m1.accuracy_ci.high);
  CHECK(m1.macro_f1_ci.low <= m1.macro_f1);
  CHECK(m1.macro_f1 <= m1.macro_f1_ci.high);
  CHECK(m1.accuracy_ci.low == m2.accuracy_ci.low);  // same seed, same resamples
  CHECK(m1.accuracy_ci.high == m2.accuracy_ci.high);
  CHECK(m1.macro_f1_ci.low == m2.macro_f1_ci.low);

  const ClassificationMetrics none = compute_metrics(labels, probs_for(preds), kClasses, 0);
  CHECK(std::isnan(none.accuracy_ci.low));  // no rounds: no interval
}

TEST_CASE("percentile bootstrap of a mean has the width the normal approximation predicts") {
  // The mean of indices 0..99 resampled: mean 49.5, standard error 28.87 / sqrt(100) = 2.887,
  // so the 95 % interval is about 49.5 +- 1.96 * 2.887, i.e. 11.3 wide.
  const auto mean_index = [](const std::vector<int64_t>& idx) {
    double sum = 0;
    for (const int64_t i : idx) sum += static_cast<double>(i);
    return sum / static_cast<double>(idx.size());
  };
  const Interval ci = bootstrap_interval(100, 2000, 1, mean_index);
  CHECK(ci.low < 49.5);
  CHECK(ci.high > 49.5);
  CHECK(ci.high - ci.low == doctest::Approx(11.3).epsilon(0.15));
  const Interval other_seed = bootstrap_interval(100, 2000, 2, mean_index);
  CHECK(other_seed.low != ci.low);  // another seed draws other resamples
}

TEST_CASE("McNemar on Agresti's worked example (approval of the Prime Minister, 1,600 people)") {
  // Agresti, Categorical Data Analysis (2002), Table 10.1: approve/disapprove in two surveys a
  // month apart: 794 approve both times, 150 approve then disapprove, 86 the reverse, 570
  // disapprove both times. McNemar's z^2 = (150 - 86)^2 / (150 + 86) = 17.36 (z = -4.17);
  // continuity-corrected: (64 - 1)^2 / 236 = 16.82. Here "right" is "approve".
  PairedPredictions p;
  p.label = 1;
  p.add(794, 1, 1);
  p.add(150, 1, 0);
  p.add(86, 0, 1);
  p.add(570, 0, 0);
  const McNemarResult r = mcnemar(p.labels, p.a, p.b);
  CHECK(r.a_right_b_wrong == 150);
  CHECK(r.a_wrong_b_right == 86);
  CHECK(r.statistic == doctest::Approx(63.0 * 63.0 / 236.0));
  CHECK(r.statistic == doctest::Approx(16.82).epsilon(0.001));
  // The exact binomial p is about the chi-square's (p < 0.0001 either way).
  CHECK(r.p_value < 1e-4);
  CHECK(r.p_value > 1e-6);
}

TEST_CASE("Student's t: closed forms and table quantiles") {
  // df = 1 (Cauchy): F(t) = 1/2 + atan(t) / pi; df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {-3.0, -0.5, 0.0, 0.7, 2.0, 10.0}) {
    CAPTURE(t);
    CHECK(student_t_cdf(t, 1) == doctest::Approx(0.5 + std::atan(t) / M_PI).epsilon(1e-12));
    CHECK(student_t_cdf(t, 2) ==
          doctest::Approx(0.5 + t / (2 * std::sqrt(2 + t * t))).epsilon(1e-12));
  }
  // Table values: t_{0.975} with 4, 9 and 1 degrees of freedom; t_{0.80} with 4.
  CHECK(student_t_quantile(0.975, 4) == doctest::Approx(2.776445).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 9) == doctest::Approx(2.262157).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 1) == doctest::Approx(12.706205).epsilon(1e-6));
  CHECK(student_t_quantile(0.80, 4) == doctest::Approx(0.940965).epsilon(1e-5));
  CHECK(student_t_cdf(0.0, 7) == 0.5);
}

TEST_CASE("corrected resampled t-test on a worked 5-fold example") {
  // Fold differences B - A = 0.02, 0.05, -0.01, 0.04, 0.03 (5 folds: n_test / n_train = 1/4).
  // By hand: mean 0.026; s^2 = (0.006^2 + 0.024^2 + 0.036^2 + 0.014^2 + 0.004^2) / 4 = 5.3e-4;
  // corrected se = sqrt((1/5 + 1/4) 5.3e-4) = 0.0154434, t = 1.68356, two-sided p with 4
  // degrees of freedom 0.16755 (numerical integration of the t density); the naive se
  // sqrt(5.3e-4 / 5) = 0.0102956 would have given t = 2.525, p about 0.065.
  const std::vector<double> a = {0.70, 0.68, 0.74, 0.69, 0.71};
  const std::vector<double> b = {0.72, 0.73, 0.73, 0.73, 0.74};
  const CorrectedTTest r = corrected_resampled_t_test(a, b, 0.25);
  CHECK(r.n == 5);
  CHECK(r.mean_difference == doctest::Approx(0.026).epsilon(1e-9));
  CHECK(r.sd == doctest::Approx(0.0230217289).epsilon(1e-8));
  CHECK(r.standard_error == doctest::Approx(0.0154434452).epsilon(1e-8));
  CHECK(r.naive_standard_error == doctest::Approx(0.0102956301).epsilon(1e-8));
  CHECK(r.t == doctest::Approx(1.6835621614).epsilon(1e-8));
  CHECK(r.p_value == doctest::Approx(0.1675532215).epsilon(1e-7));
  // 95 % interval mean +- 2.776445 se; smallest detectable difference (2.776445 + 0.940965) se.
  CHECK(r.ci.low == doctest::Approx(0.026 - 2.776445 * 0.0154434452).epsilon(1e-5));
  CHECK(r.ci.high == doctest::Approx(0.026 + 2.776445 * 0.0154434452).epsilon(1e-5));
  CHECK(r.minimum_detectable == doctest::Approx(0.0574096).epsilon(1e-5));
  // Swapping the models flips the sign, not the p-value.
  const CorrectedTTest swapped = corrected_resampled_t_test(b, a, 0.25);
  CHECK(swapped.t == doctest::Approx(-r.t));
  CHECK(swapped.p_value == doctest::Approx(r.p_value));
  // Every fold the same difference: no spread, p 0; no difference at all: p 1.
  CHECK(corrected_resampled_t_test({0.5, 0.6}, {0.6, 0.7}, 0.25).p_value == 0.0);
  CHECK(corrected_resampled_t_test({0.5, 0.6}, {0.5, 0.6}, 0.25).p_value == 1.0);
  CHECK_THROWS(corrected_resampled_t_test({0.5}, {0.6}, 0.25));
  CHECK_THROWS(corrected_resampled_t_test({0.5, 0.6}, {0.6}, 0.25));
}

TEST_CASE("the group bootstrap is wider than the image bootstrap when a group's rows agree") {
  // 20 groups of 10 identical rows (a scan saved 10 times): the rows carry the information of 20
  // images, not 200. Resampling images pretends there are 200 independent ones, and its interval
  // is about sqrt(10) times too narrow; resampling groups is not.
  std::vector<int64_t> group_of_row;
  std::vector<double> value;
  for (int g = 0; g < 20; ++g)
    for (int r = 0; r < 10; ++r) {
      group_of_row.push_back(g);
      value.push_back(g % 2);  // half the groups right, half wrong
    }
  const auto mean_of = [&](const std::vector<int64_t>& rows) {
    double sum = 0;
    for (int64_t i : rows) sum += value[static_cast<size_t>(i)];
    return std::vector<double>{sum / static_cast<double>(rows.size())};
  };
  const Interval by_images = bootstrap_intervals(200, 2000, 3, mean_of)[0];
  const Interval by_groups = group_bootstrap_intervals(group_of_row, 2000, 3, mean_of)[0];
  const double w_images = by_images.high - by_images.low, w_groups = by_groups.high - by_groups.low;
  CAPTURE(w_images);
  CAPTURE(w_groups);
  // Binomial: images 2 * 1.96 sqrt(0.25 / 200) = 0.139; groups 2 * 1.96 sqrt(0.25 / 20) = 0.438.
  CHECK(w_images == doctest::Approx(0.139).epsilon(0.15));
  CHECK(w_groups == doctest::Approx(0.438).epsilon(0.15));
  // Each image its own group: the group bootstrap is the image bootstrap.
  std::vector<int64_t> alone(200);
  for (int i = 0; i < 200; ++i) alone[static_cast<size_t>(i)] = i;
  const Interval same = group_bootstrap_intervals(alone, 500, 4, mean_of)[0];
  const Interval image = bootstrap_intervals(200, 500, 4, mean_of)[0];
  CHECK(same.low == image.low);
  CHECK(same.high == image.high);
}

TEST_CASE("metrics_to_json writes every field, NaN as null") {
  const std::vector<int64_t> labels = {0, 0, 1, 1};
  const std::vector<std::vector<float>> probs = {
      {0.8f, 0.1f, 0.1f}, {0.6f, 0.3f, 0.1f}, {0.2f, 0.7f, 0.1f}, {0.5f, 0.4f, 0.1f}};
  const ClassificationMetrics m = compute_metrics(labels, probs, kClasses, 50, 3);
  const Json j = parse_json(metrics_to_json(m));
  CHECK(j.at("n").as_int() == 4);
  CHECK(j.at("accuracy").as_number() == doctest::Approx(0.75));
  CHECK(j.at("class_names")[2].as_string() == "normal");
  CHECK(j.at("accuracy_ci95").size() == 2);
  CHECK(j.at("macro_f1_ci95")[0].as_number() <= m.macro_f1);
  CHECK(j.at("per_class").at("benign").at("recall").as_number() == doctest::Approx(1.0));
  CHECK(j.at("per_class").at("normal").at("auc").is_null());  // NaN: class absent
  CHECK(j.at("per_class").at("malignant").at("support").as_int() == 2);
  CHECK(j.at("confusion_matrix")[1][0].as_int() == 1);  // one malignant predicted benign
  CHECK(j.at("balanced_accuracy").as_number() == doctest::Approx(m.balanced_accuracy));
  CHECK(j.at("macro_auc").as_number() == doctest::Approx(m.macro_auc));
}

TEST_CASE("compute_metrics rejects inconsistent input with a message") {
  CHECK_THROWS_WITH(compute_metrics({}, {}, kClasses), doctest::Contains("no samples"));
  CHECK_THROWS_WITH(compute_metrics({0, 1}, {{0.5f, 0.5f, 0.0f}}, kClasses),
                    doctest::Contains("2 labels but 1 rows"));
  CHECK_THROWS_WITH(compute_metrics({3}, {{0.5f, 0.5f, 0.0f}}, kClasses),
                    doctest::Contains("outside [0, 3)"));
  CHECK_THROWS_WITH(compute_metrics({0}, {{0.5f, 0.5f}}, kClasses),
                    doctest::Contains("2 probabilities for 3 classes"));
}
