// Classification metrics: confusion matrix and the scores read from it, ROC-AUC as the
// Mann-Whitney statistic, percentile-bootstrap intervals and McNemar's exact test.
#include "tools/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/common/error.h"
#include "engine/random.h"

namespace busi::tools {

namespace {

double nan_value() { return std::nan(""); }

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
  if (values.empty()) return nan_value();
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// The q-quantile of sorted values, interpolating linearly between order statistics: position
// h = (N - 1) q, value = v[floor h] + (h - floor h) (v[floor h + 1] - v[floor h]).
double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
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

// ---- ROC ----------------------------------------------------------------------------------------

// AUC = P(score of a random positive > score of a random negative) + 1/2 P(equal), which is the
// Mann-Whitney U statistic divided by n_pos * n_neg. With midranks r_i (ties share the mean of
// the ranks they span), U = sum of positives' ranks - n_pos (n_pos + 1) / 2.
double roc_auc(const std::vector<int>& positive, const std::vector<float>& scores) {
  BUSI_CHECK(positive.size() == scores.size(), "roc_auc: ", positive.size(), " labels but ",
             scores.size(), " scores");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });

  double positive_rank_sum = 0.0;
  int64_t n_pos = 0;
  for (size_t start = 0; start < n;) {
    size_t end = start;  // [start, end) is a run of equal scores
    while (end < n && scores[order[end]] == scores[order[start]]) ++end;
    const double midrank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2.0;
    for (size_t i = start; i < end; ++i)
      if (positive[order[i]] != 0) {
        positive_rank_sum += midrank;
        ++n_pos;
      }
    start = end;
  }
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return nan_value();
  const double p = static_cast<double>(n_pos);
  const double u = positive_rank_sum - p * (p + 1) / 2.0;
  return u / (p * static_cast<double>(n_neg));
}

// Lowering the threshold from +inf past each distinct score adds every sample with that score
// at once, so tied scores give one diagonal step rather than a staircase.
std::vector<RocPoint> roc_curve(const std::vector<int>& positive,
                                const std::vector<float>& scores) {
  BUSI_CHECK(positive.size() == scores.size(), "roc_curve: ", positive.size(), " labels but ",
             scores.size(), " scores");
  const size_t n = scores.size();
  int64_t n_pos = 0;
  for (const int p : positive) n_pos += p != 0;
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return {};  // one of the rates is undefined

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<RocPoint> points{{0.0, 0.0}};
  int64_t tp = 0, fp = 0;
  for (size_t start = 0; start < n;) {
    size_t end = start;
    while (end < n && scores[order[end]] == scores[order[start]]) ++end;
    for (size_t i = start; i < end; ++i) (positive[order[i]] != 0 ? tp : fp) += 1;
    points.push_back({static_cast<double>(fp) / static_cast<double>(n_neg),
                      static_cast<double>(tp) / static_cast<double>(n_pos)});
    start = end;
  }
  return points;
}

// ---- Bootstrap ----------------------------------------------------------------------------------

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
      intervals.push_back({nan_value(), nan_value()});
      continue;
    }
    std::sort(values.begin(), values.end());
    intervals.push_back({quantile_of_sorted(values, 0.025), quantile_of_sorted(values, 0.975)});
  }
  return intervals;
}

Interval bootstrap_interval(int64_t n, int rounds, uint64_t seed,
                            const std::function<double(const std::vector<int64_t>&)>& statistic) {
  const std::vector<Interval> one = bootstrap_intervals(
      n, rounds, seed,
      [&](const std::vector<int64_t>& idx) { return std::vector{statistic(idx)}; });
  return one.empty() ? Interval{nan_value(), nan_value()} : one[0];
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
    m.accuracy_ci = m.macro_f1_ci = {nan_value(), nan_value()};
  }
  return m;
}

// ---- McNemar ------------------------------------------------------------------------------------

// Under H0 (both models err equally often on the samples where they disagree), each of the
// n = b + c discordant samples is a fair coin: b ~ Binomial(n, 1/2). The two-sided p-value
// doubles the smaller tail: p = min(1, 2 sum_{i=0}^{min(b,c)} C(n, i) / 2^n), each term computed
// in logs (lgamma) so that 2^n does not overflow.
double binomial_two_sided_p(int64_t k, int64_t n) {
  BUSI_CHECK(n >= 0 && k >= 0 && k <= n, "binomial_two_sided_p: need 0 <= k <= n, got k = ", k,
             ", n = ", n);
  if (n == 0) return 1.0;
  const int64_t smaller = std::min(k, n - k);
  const auto log_choose = [&](int64_t i) {
    return std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(i + 1)) -
           std::lgamma(static_cast<double>(n - i + 1));
  };
  double tail = 0.0;
  for (int64_t i = 0; i <= smaller; ++i)
    tail += std::exp(log_choose(i) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2.0 * tail);
}

McNemarResult mcnemar(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                      const std::vector<int64_t>& pred_b) {
  BUSI_CHECK(labels.size() == pred_a.size() && labels.size() == pred_b.size(),
             "mcnemar: ", labels.size(), " labels, ", pred_a.size(), " and ", pred_b.size(),
             " predictions");
  McNemarResult r;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool a_right = pred_a[i] == labels[i], b_right = pred_b[i] == labels[i];
    r.a_right_b_wrong += a_right && !b_right;
    r.a_wrong_b_right += !a_right && b_right;
  }
  const int64_t b = r.a_right_b_wrong, c = r.a_wrong_b_right;
  if (b + c > 0) {
    // Edwards' continuity correction; |b - c| - 1 is floored at 0 so that b = c gives 0.
    const double gap = std::max(0.0, std::abs(static_cast<double>(b - c)) - 1.0);
    r.statistic = gap * gap / static_cast<double>(b + c);
  }
  r.p_value = binomial_two_sided_p(b, b + c);
  return r;
}

// ---- JSON ---------------------------------------------------------------------------------------

Json metrics_to_json_value(const ClassificationMetrics& m) {
  Json j = Json::object();
  j["n"] = m.n;
  j["class_names"] = m.class_names;
  j["accuracy"] = m.accuracy;
  j["accuracy_ci95"] = std::vector<double>{m.accuracy_ci.low, m.accuracy_ci.high};
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["macro_f1"] = m.macro_f1;
  j["macro_f1_ci95"] = std::vector<double>{m.macro_f1_ci.low, m.macro_f1_ci.high};
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
