// Classification metrics for the test subset and the comparison report: confusion matrix,
// accuracy, balanced accuracy, per-class precision/recall/F1, one-vs-rest ROC-AUC, bootstrap
// confidence intervals, and McNemar's test on two models' paired predictions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/common/json_writer.h"

namespace busi::tools {

struct Interval {
  double low = 0.0, high = 0.0;  // a 95 % percentile-bootstrap interval
};

struct ClassificationMetrics {
  int64_t n = 0;  // number of samples
  std::vector<std::string> class_names;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  double accuracy = 0.0;
  double balanced_accuracy = 0.0;             // mean recall over the classes in the labels
  std::vector<double> precision, recall, f1;  // per class (0 when undefined, e.g. never predicted)
  std::vector<int64_t> support;               // true samples per class
  double macro_f1 = 0.0;
  std::vector<double> auc;  // one-vs-rest ROC-AUC per class (NaN if a class is absent)
  double macro_auc = 0.0;   // mean over classes with a defined AUC
  Interval accuracy_ci, macro_f1_ci;
};

// labels[i] in [0, K); probs[i] has K probabilities (the prediction is their argmax, first on
// ties). Bootstrap: `rounds` resamples of the n samples with replacement, seeded.
ClassificationMetrics compute_metrics(const std::vector<int64_t>& labels,
                                      const std::vector<std::vector<float>>& probs,
                                      const std::vector<std::string>& class_names,
                                      int bootstrap_rounds = 1000, uint64_t bootstrap_seed = 0);

// Area under the ROC curve of scores for a binary truth (the Mann-Whitney statistic, ties
// counted half). NaN when either class is absent.
double roc_auc(const std::vector<int>& positive, const std::vector<float>& scores);

struct RocPoint {
  double fpr, tpr;
};
// The ROC curve's corner points, from (0,0) to (1,1), one per distinct score threshold.
std::vector<RocPoint> roc_curve(const std::vector<int>& positive, const std::vector<float>& scores);

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

// The metrics as a JSON object (the "test" part of metrics.json).
std::string metrics_to_json(const ClassificationMetrics& m, int indent = 2);

// ---- Added for the comparison report (and handy in trainers) ------------------------------------

// The same object as metrics_to_json, as a value to place inside a larger document:
//   Json doc = Json::object(); doc["test"] = metrics_to_json_value(m);
// Keys: n, class_names, accuracy, accuracy_ci95 [low, high], balanced_accuracy, macro_f1,
// macro_f1_ci95, macro_auc, per_class {name: {precision, recall, f1, support, auc}},
// confusion_matrix (rows: true class, columns: predicted class). NaN is written as null.
Json metrics_to_json_value(const ClassificationMetrics& m);

// The predicted class of each row of probabilities: the argmax, the first one on ties.
std::vector<int64_t> argmax_predictions(const std::vector<std::vector<float>>& probs);

// confusion[t][p] = number of samples of true class t predicted as p (labels in [0, K)).
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& labels,
                                                   const std::vector<int64_t>& preds,
                                                   int64_t num_classes);

// Macro-F1 of a confusion matrix: the mean over all K classes of F1 = 2PR / (P + R), where a
// class never predicted has precision 0 and a class with no true sample has recall 0.
double macro_f1_from_confusion(const std::vector<std::vector<int64_t>>& confusion);

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

// The exact two-sided binomial test of k successes in n trials with p = 1/2:
// min(1, 2 * P(X <= min(k, n - k))), the p-value of McNemar's exact test. 1 when n = 0.
double binomial_two_sided_p(int64_t k, int64_t n);

}  // namespace busi::tools
