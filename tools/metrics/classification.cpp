// Classification metrics: the confusion matrix and the scores read from it (see
// classification.h).
#include "tools/metrics/classification.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/common/error.h"
#include "tools/metrics/roc.h"

namespace busi::tools {

namespace {

double safe_ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Per-class precision, recall and F1 from a confusion matrix [true][predicted].
// Conventions (sklearn's zero_division=0): a class never predicted has precision 0, a class with
// no true sample has recall 0, and F1 = 0 when P + R = 0.
struct PerClassScores {
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support, predicted;
};

PerClassScores per_class_scores(const std::vector<std::vector<int64_t>>& confusion) {
  const size_t k = confusion.size();
  PerClassScores s;
  s.support.assign(k, 0);
  s.predicted.assign(k, 0);
  for (size_t t = 0; t < k; ++t)
    for (size_t p = 0; p < k; ++p) {
      s.support[t] += confusion[t][p];
      s.predicted[p] += confusion[t][p];
    }
  for (size_t c = 0; c < k; ++c) {
    const double tp = static_cast<double>(confusion[c][c]);
    const double precision = safe_ratio(tp, static_cast<double>(s.predicted[c]));
    const double recall = safe_ratio(tp, static_cast<double>(s.support[c]));
    s.precision.push_back(precision);
    s.recall.push_back(recall);
    s.f1.push_back(safe_ratio(2 * precision * recall, precision + recall));
  }
  return s;
}

double mean_of(const std::vector<double>& values) {
  if (values.empty()) return std::nan("");
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

void check_inputs(const std::vector<int64_t>& labels, const std::vector<std::vector<float>>& probs,
                  size_t num_classes) {
  BUSI_CHECK(!labels.empty(), "compute_metrics: no samples");
  BUSI_CHECK(num_classes >= 2, "compute_metrics: need at least 2 class names");
  BUSI_CHECK(labels.size() == probs.size(), "compute_metrics: ", labels.size(), " labels but ",
             probs.size(), " rows of probabilities");
  for (size_t i = 0; i < labels.size(); ++i) {
    BUSI_CHECK(labels[i] >= 0 && labels[i] < static_cast<int64_t>(num_classes),
               "compute_metrics: label ", labels[i], " of sample ", i, " outside [0, ", num_classes,
               ")");
    BUSI_CHECK(probs[i].size() == num_classes, "compute_metrics: sample ", i, " has ",
               probs[i].size(), " probabilities for ", num_classes, " classes");
  }
}

}  // namespace

// ---- Building blocks ----------------------------------------------------------------------------

std::vector<int64_t> argmax_predictions(const std::vector<std::vector<float>>& probs) {
  std::vector<int64_t> preds;
  preds.reserve(probs.size());
  for (const auto& row : probs)  // max_element returns the first maximum: first class on ties
    preds.push_back(std::max_element(row.begin(), row.end()) - row.begin());
  return preds;
}

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& labels,
                                                   const std::vector<int64_t>& preds,
                                                   int64_t num_classes) {
  BUSI_CHECK(labels.size() == preds.size(), "confusion_matrix: ", labels.size(), " labels but ",
             preds.size(), " predictions");
  const auto k = static_cast<size_t>(num_classes);
  std::vector<std::vector<int64_t>> confusion(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < labels.size(); ++i) {
    BUSI_CHECK(labels[i] >= 0 && labels[i] < num_classes && preds[i] >= 0 && preds[i] < num_classes,
               "confusion_matrix: sample ", i, " has label ", labels[i], " / prediction ", preds[i],
               " outside [0, ", num_classes, ")");
    ++confusion[static_cast<size_t>(labels[i])][static_cast<size_t>(preds[i])];
  }
  return confusion;
}

double macro_f1_from_confusion(const std::vector<std::vector<int64_t>>& confusion) {
  return mean_of(per_class_scores(confusion).f1);
}

// ---- All metrics --------------------------------------------------------------------------------

ClassificationMetrics compute_metrics(const std::vector<int64_t>& labels,
                                      const std::vector<std::vector<float>>& probs,
                                      const std::vector<std::string>& class_names,
                                      int bootstrap_rounds, uint64_t bootstrap_seed) {
  const size_t k = class_names.size();
  check_inputs(labels, probs, k);
  const auto num_classes = static_cast<int64_t>(k);
  const std::vector<int64_t> preds = argmax_predictions(probs);

  ClassificationMetrics m;
  m.n = static_cast<int64_t>(labels.size());
  m.class_names = class_names;
  m.confusion = confusion_matrix(labels, preds, num_classes);

  int64_t correct = 0;
  for (size_t c = 0; c < k; ++c) correct += m.confusion[c][c];
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);

  PerClassScores scores = per_class_scores(m.confusion);
  m.precision = std::move(scores.precision);
  m.recall = std::move(scores.recall);
  m.f1 = std::move(scores.f1);
  m.support = std::move(scores.support);
  m.macro_f1 = mean_of(m.f1);

  // Balanced accuracy: the mean recall over the classes that occur in the labels (a class with
  // no true sample has no recall to average).
  std::vector<double> present_recalls;
  for (size_t c = 0; c < k; ++c)
    if (m.support[c] > 0) present_recalls.push_back(m.recall[c]);
  m.balanced_accuracy = mean_of(present_recalls);

  // One-vs-rest AUC of each class's probability; the macro AUC averages the defined ones.
  std::vector<double> defined_aucs;
  for (size_t c = 0; c < k; ++c) {
    std::vector<int> positive(labels.size());
    std::vector<float> score(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      positive[i] = labels[i] == static_cast<int64_t>(c);
      score[i] = probs[i][c];
    }
    m.auc.push_back(roc_auc(positive, score));
    if (!std::isnan(m.auc.back())) defined_aucs.push_back(m.auc.back());
  }
  m.macro_auc = mean_of(defined_aucs);

  // Accuracy and macro-F1 of each resample (both from its confusion matrix).
  const std::vector<Interval> cis =
      bootstrap_intervals(m.n, bootstrap_rounds, bootstrap_seed, [&](const auto& idx) {
        std::vector<int64_t> l, p;
        for (const int64_t i : idx) {
          l.push_back(labels[static_cast<size_t>(i)]);
          p.push_back(preds[static_cast<size_t>(i)]);
        }
        const auto confusion = confusion_matrix(l, p, num_classes);
        int64_t hits = 0;
        for (size_t c = 0; c < k; ++c) hits += confusion[c][c];
        return std::vector{static_cast<double>(hits) / static_cast<double>(idx.size()),
                           macro_f1_from_confusion(confusion)};
      });
  if (cis.size() == 2) {
    m.accuracy_ci = cis[0];
    m.macro_f1_ci = cis[1];
  } else {  // no bootstrap asked for
    m.accuracy_ci = m.macro_f1_ci = {std::nan(""), std::nan("")};
  }
  return m;
}

// ---- JSON ---------------------------------------------------------------------------------------

Json metrics_to_json_value(const ClassificationMetrics& m) {
  Json j = Json::object();
  j["n"] = m.n;
  j["class_names"] = m.class_names;
  j["accuracy"] = m.accuracy;
  j["accuracy_ci95"] = interval_json(m.accuracy_ci);
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["macro_f1"] = m.macro_f1;
  j["macro_f1_ci95"] = interval_json(m.macro_f1_ci);
  j["macro_auc"] = m.macro_auc;
  Json& per_class = j["per_class"] = Json::object();
  for (size_t c = 0; c < m.class_names.size(); ++c) {
    Json& entry = per_class[m.class_names[c]] = Json::object();
    entry["precision"] = m.precision.at(c);
    entry["recall"] = m.recall.at(c);
    entry["f1"] = m.f1.at(c);
    entry["support"] = m.support.at(c);
    entry["auc"] = m.auc.at(c);
  }
  j["confusion_matrix"] = m.confusion;
  j["confusion_matrix_axes"] = "rows: true class, columns: predicted class (class_names order)";
  return j;
}

std::string metrics_to_json(const ClassificationMetrics& m, int indent) {
  return metrics_to_json_value(m).dump(indent);
}

}  // namespace busi::tools
