// Classification metrics of one model on one subset, for metrics.json and the comparison report:
// confusion matrix, accuracy, balanced accuracy, per-class precision/recall/F1, one-vs-rest
// ROC-AUC (roc.h), and bootstrap intervals of accuracy and macro-F1 (bootstrap.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/formats/json_value.h"
#include "tools/metrics/bootstrap.h"

namespace busi::tools {

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

// The metrics as a JSON object (the "test" part of metrics.json).
std::string metrics_to_json(const ClassificationMetrics& m, int indent = 2);

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

}  // namespace busi::tools
