// The plan of a cross-validated comparison and its fold statistics (see cross_validation.h).
#include "tools/report/cross_validation.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"
#include "tools/report/format.h"

namespace busi::tools {

std::vector<FoldTest> fold_tests(const std::vector<FoldResult>& a,
                                 const std::vector<FoldResult>& b) {
  BUSI_CHECK(a.size() == b.size() && a.size() >= 2, "fold tests: ", a.size(), " and ", b.size(),
             " folds (need the same number, at least 2)");
  double ratio = 0;
  for (const FoldResult& f : a)
    ratio += static_cast<double>(f.test_images) /
             static_cast<double>(std::max<int64_t>(1, f.train_images + f.val_images)) /
             static_cast<double>(a.size());
  const std::vector<std::tuple<std::string, std::string, double ClassificationMetrics::*>> metrics =
      {{"accuracy", "Accuracy", &ClassificationMetrics::accuracy},
       {"balanced_accuracy", "Balanced accuracy", &ClassificationMetrics::balanced_accuracy},
       {"macro_f1", "Macro-F1", &ClassificationMetrics::macro_f1},
       {"macro_auc", "Macro ROC-AUC", &ClassificationMetrics::macro_auc}};
  std::vector<FoldTest> tests;
  for (const auto& [key, label, member] : metrics) {
    FoldTest t;
    t.metric = key;
    t.label = label;
    for (size_t j = 0; j < a.size(); ++j) {
      t.a.push_back(a[j].metrics.*member);
      t.b.push_back(b[j].metrics.*member);
    }
    t.test = corrected_resampled_t_test(t.a, t.b, ratio);
    tests.push_back(std::move(t));
  }
  return tests;
}

std::string cv_headline(const std::string& name_a, const std::string& name_b,
                        const CrossValidation& cv) {
  const auto it = std::find_if(cv.tests.begin(), cv.tests.end(),
                               [](const FoldTest& t) { return t.metric == "macro_f1"; });
  if (it == cv.tests.end()) return "";
  const CorrectedTTest& t = it->test;
  const std::string runs = std::to_string(cv.folds) + " folds" +
                           (cv.repeats > 1 ? " x " + std::to_string(cv.repeats) + " repeats" : "");
  const double d = t.mean_difference;
  std::string s = "Over " + runs + ", " + name_b + "'s mean macro-F1 is " +
                  fmt_metric(std::abs(d)) + (d >= 0 ? " above " : " below ") + name_a + "'s (" +
                  name_b + " \u2212 " + name_a + ": 95 % CI " + fmt_interval(t.ci) +
                  "); the corrected resampled t-test gives p = " + fmt_p_value(t.p_value) + ", " +
                  (t.p_value < 0.05 ? "significant" : "not significant") +
                  " at the 5 % level. With these folds a difference of " +
                  fmt_metric(t.minimum_detectable) +
                  " or more would have been detected with 80 % power.";
  return s;
}

}  // namespace busi::tools
