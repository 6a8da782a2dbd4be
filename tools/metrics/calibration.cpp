// Calibration scores and temperature scaling (see calibration.h).
#include "tools/metrics/calibration.h"

#include <algorithm>
#include <cmath>

#include "engine/random.h"
#include "kernels/common/error.h"

namespace busi::tools {

namespace {

constexpr double kMinTemperature = 0.05, kMaxTemperature = 20.0;

// log sum_k exp(b z_k), shifted by the largest term so that no exp overflows.
double log_sum_exp(const std::vector<float>& z, double b) {
  double top = -INFINITY;
  for (float v : z) top = std::max(top, b * v);
  double sum = 0.0;
  for (float v : z) sum += std::exp(b * v - top);
  return top + std::log(sum);
}

void check_rows(size_t rows, size_t labels, size_t width, const char* what) {
  BUSI_CHECK(rows == labels, what, ": ", rows, " rows of scores for ", labels, " labels");
  BUSI_CHECK(rows > 0, what, ": no samples");
  BUSI_CHECK(width >= 2, what, ": expected 2 or more classes, got ", width);
}

// What each sample contributes to the three scores; the bootstrap re-sums these.
struct SampleTerms {
  std::vector<double> nll, brier, confidence;
  std::vector<int> correct, bin;
};

SampleTerms sample_terms(const std::vector<std::vector<double>>& probs,
                         const std::vector<int64_t>& labels, int bins) {
  SampleTerms t;
  const size_t k = probs[0].size();
  for (size_t i = 0; i < probs.size(); ++i) {
    const std::vector<double>& p = probs[i];
    BUSI_CHECK(p.size() == k, "calibration: row ", i, " has ", p.size(), " probabilities, not ", k);
    const auto y = static_cast<size_t>(labels[i]);
    BUSI_CHECK(labels[i] >= 0 && y < k, "calibration: label ", labels[i], " of row ", i,
               " is not a class in [0, ", k, ")");
    t.nll.push_back(-std::log(std::max(p[y], 1e-300)));
    double brier = 0.0;
    for (size_t c = 0; c < k; ++c) brier += (p[c] - (c == y ? 1.0 : 0.0)) * (p[c] - (c == y));
    t.brier.push_back(brier);
    const size_t top = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    t.confidence.push_back(p[top]);
    t.correct.push_back(top == y);
    // Bin b holds [b / B, (b + 1) / B); a confidence of exactly 1 goes to the last bin.
    t.bin.push_back(std::min(bins - 1, static_cast<int>(p[top] * bins)));
  }
  return t;
}

// ECE and the bins over the samples `idx` (with repetition, for the bootstrap).
double ece_of(const SampleTerms& t, const std::vector<int64_t>& idx, int bins,
              std::vector<ReliabilityBin>* out) {
  std::vector<double> confidence(static_cast<size_t>(bins)), hits(static_cast<size_t>(bins));
  std::vector<int64_t> count(static_cast<size_t>(bins));
  for (const int64_t i : idx) {
    const auto s = static_cast<size_t>(i);
    const auto b = static_cast<size_t>(t.bin[s]);
    ++count[b];
    confidence[b] += t.confidence[s];
    hits[b] += t.correct[s];
  }
  double ece = 0.0;
  for (size_t b = 0; b < count.size(); ++b) {
    if (count[b] == 0) continue;
    ece += std::abs(hits[b] - confidence[b]);  // n_b |acc_b - conf_b|, divided by n below
  }
  if (out) {
    out->clear();
    for (size_t b = 0; b < count.size(); ++b) {
      ReliabilityBin bin;
      bin.lower = static_cast<double>(b) / bins;
      bin.upper = static_cast<double>(b + 1) / bins;
      bin.count = count[b];
      if (count[b] > 0) {
        bin.mean_confidence = confidence[b] / static_cast<double>(count[b]);
        bin.accuracy = hits[b] / static_cast<double>(count[b]);
      }
      out->push_back(bin);
    }
  }
  return ece / static_cast<double>(idx.size());
}

double mean_over(const std::vector<double>& values, const std::vector<int64_t>& idx) {
  double sum = 0.0;
  for (const int64_t i : idx) sum += values[static_cast<size_t>(i)];
  return sum / static_cast<double>(idx.size());
}

}  // namespace

std::vector<std::vector<double>> softmax_with_temperature(
    const std::vector<std::vector<float>>& logits, double temperature) {
  BUSI_CHECK(temperature > 0 && std::isfinite(temperature),
             "softmax_with_temperature: the temperature must be positive and finite, got ",
             temperature);
  std::vector<std::vector<double>> probs;
  probs.reserve(logits.size());
  for (const std::vector<float>& z : logits) {
    const double lse = log_sum_exp(z, 1.0 / temperature);
    std::vector<double> p;
    for (float v : z) p.push_back(std::exp(v / temperature - lse));
    probs.push_back(std::move(p));
  }
  return probs;
}

double nll_from_logits(const std::vector<std::vector<float>>& logits,
                       const std::vector<int64_t>& labels, double temperature) {
  check_rows(logits.size(), labels.size(), logits.empty() ? 0 : logits[0].size(), "NLL");
  const double b = 1.0 / temperature;
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i)
    sum += log_sum_exp(logits[i], b) - b * logits[i].at(static_cast<size_t>(labels[i]));
  return sum / static_cast<double>(logits.size());
}

double fit_temperature(const std::vector<std::vector<float>>& logits,
                       const std::vector<int64_t>& labels) {
  check_rows(logits.size(), labels.size(), logits.empty() ? 0 : logits[0].size(),
             "fit_temperature");
  auto nll_at = [&](double b) { return nll_from_logits(logits, labels, 1.0 / b); };
  // Golden-section search on b = 1 / T in [1 / 20, 1 / 0.05]: each step keeps the part of the
  // bracket that holds the minimum of a convex function and shrinks it by 0.618; 100 steps
  // leave a bracket of 20 * 0.618^100, far below any digit that matters.
  const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
  double lo = 1.0 / kMaxTemperature, hi = 1.0 / kMinTemperature;
  double x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo);
  double f1 = nll_at(x1), f2 = nll_at(x2);
  for (int step = 0; step < 100; ++step) {
    if (f1 <= f2) {  // the minimum is in [lo, x2]
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - ratio * (hi - lo);
      f1 = nll_at(x1);
    } else {  // in [x1, hi]
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + ratio * (hi - lo);
      f2 = nll_at(x2);
    }
  }
  return 1.0 / (0.5 * (lo + hi));
}

namespace {

CalibrationScores score_terms(const SampleTerms& terms, int bins, int rounds, uint64_t seed) {
  CalibrationScores s;
  s.n = static_cast<int64_t>(terms.nll.size());
  std::vector<int64_t> all(terms.nll.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  s.nll = mean_over(terms.nll, all);
  s.brier = mean_over(terms.brier, all);
  s.ece = ece_of(terms, all, bins, &s.bins);
  const std::vector<Interval> cis =
      bootstrap_intervals(s.n, rounds, seed, [&](const std::vector<int64_t>& idx) {
        return std::vector{mean_over(terms.nll, idx), mean_over(terms.brier, idx),
                           ece_of(terms, idx, bins, nullptr)};
      });
  const Interval none{std::nan(""), std::nan("")};
  s.nll_ci = cis.size() == 3 ? cis[0] : none;
  s.brier_ci = cis.size() == 3 ? cis[1] : none;
  s.ece_ci = cis.size() == 3 ? cis[2] : none;
  return s;
}

}  // namespace

double ece_under_perfect_calibration(const std::vector<std::vector<double>>& probs, int bins,
                                     int rounds, uint64_t seed, Interval* range) {
  const Interval none{std::nan(""), std::nan("")};
  if (range) *range = none;
  if (rounds <= 0 || probs.empty()) return std::nan("");
  // One draw: y_i ~ Categorical(p_i) for every sample, then the ECE of (p, y). The terms other
  // than the labels (confidence, bin, argmax) do not change from draw to draw.
  std::vector<int64_t> labels(probs.size());
  SampleTerms terms = sample_terms(probs, labels, bins);
  std::vector<int64_t> all(probs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  std::vector<size_t> top(probs.size());
  for (size_t i = 0; i < probs.size(); ++i)
    top[i] =
        static_cast<size_t>(std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin());
  Generator gen(seed ^ 0x9e3779b97f4a7c15ULL);  // a stream apart from the bootstrap's
  std::vector<double> values;
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < probs.size(); ++i) {
      const double u = gen.uniform();
      double cumulative = 0.0;
      size_t y = probs[i].size() - 1;  // rounding may leave the sum a hair below 1
      for (size_t k = 0; k < probs[i].size(); ++k) {
        cumulative += probs[i][k];
        if (u < cumulative) {
          y = k;
          break;
        }
      }
      terms.correct[i] = y == top[i];
    }
    values.push_back(ece_of(terms, all, bins, nullptr));
  }
  std::sort(values.begin(), values.end());
  if (range) *range = {quantile_of_sorted(values, 0.025), quantile_of_sorted(values, 0.975)};
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

CalibrationScores score_probabilities(const std::vector<std::vector<double>>& probs,
                                      const std::vector<int64_t>& labels, int bins, int rounds,
                                      uint64_t seed) {
  check_rows(probs.size(), labels.size(), probs.empty() ? 0 : probs[0].size(), "calibration");
  BUSI_CHECK(bins >= 1, "calibration: expected 1 or more bins, got ", bins);
  CalibrationScores s = score_terms(sample_terms(probs, labels, bins), bins, rounds, seed);
  s.ece_if_calibrated =
      ece_under_perfect_calibration(probs, bins, rounds, seed, &s.ece_if_calibrated_range);
  return s;
}

CalibrationScores score_logits(const std::vector<std::vector<float>>& logits,
                               const std::vector<int64_t>& labels, double temperature, int bins,
                               int rounds, uint64_t seed) {
  check_rows(logits.size(), labels.size(), logits.empty() ? 0 : logits[0].size(), "calibration");
  BUSI_CHECK(bins >= 1, "calibration: expected 1 or more bins, got ", bins);
  const std::vector<std::vector<double>> probs = softmax_with_temperature(logits, temperature);
  SampleTerms terms = sample_terms(probs, labels, bins);
  // The exact -log p from the logits, where p may have underflowed to 0.
  const double b = 1.0 / temperature;
  for (size_t i = 0; i < logits.size(); ++i)
    terms.nll[i] = log_sum_exp(logits[i], b) - b * logits[i][static_cast<size_t>(labels[i])];
  CalibrationScores s = score_terms(terms, bins, rounds, seed);
  s.ece_if_calibrated =
      ece_under_perfect_calibration(probs, bins, rounds, seed, &s.ece_if_calibrated_range);
  return s;
}

Json calibration_to_json(const CalibrationScores& s) {
  Json j = Json::object();
  j["n"] = s.n;
  j["nll"] = s.nll;
  j["nll_ci95"] = interval_json(s.nll_ci);
  j["brier"] = s.brier;
  j["brier_ci95"] = interval_json(s.brier_ci);
  j["ece"] = s.ece;
  j["ece_ci95"] = interval_json(s.ece_ci);
  j["ece_if_calibrated"] = s.ece_if_calibrated;
  j["ece_if_calibrated_range95"] = interval_json(s.ece_if_calibrated_range);
  j["ece_bins"] = static_cast<int64_t>(s.bins.size());
  Json& bins = j["reliability"] = Json::array();
  for (const ReliabilityBin& b : s.bins) {
    Json bin = Json::object();
    bin["lower"] = b.lower;
    bin["upper"] = b.upper;
    bin["count"] = b.count;
    bin["mean_confidence"] = b.mean_confidence;
    bin["accuracy"] = b.accuracy;
    bins.push_back(std::move(bin));
  }
  return j;
}

}  // namespace busi::tools
