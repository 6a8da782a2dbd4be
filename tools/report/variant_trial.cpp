// A recipe variant against the default on the same folds (see variant_trial.h).
#include "tools/report/variant_trial.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "kernels/common/error.h"
#include "tools/metrics/bootstrap.h"
#include "tools/metrics/operating_point.h"
#include "tools/metrics/roc.h"
#include "tools/report/format.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

namespace fs = std::filesystem;

namespace {

// The index of the malignant class, or -1.
int64_t malignant_index(const std::vector<std::string>& classes) {
  const auto it = std::find(classes.begin(), classes.end(), kMalignantClass);
  return it == classes.end() ? -1 : static_cast<int64_t>(it - classes.begin());
}

// Malignant against the rest on the pooled (raw) probabilities.
double pooled_malignant_auc(const RunFolder& run) {
  const int64_t k = malignant_index(run.class_names);
  if (k < 0) return std::nan("");
  std::vector<int> positive;
  std::vector<float> scores;
  for (size_t i = 0; i < run.labels.size(); ++i) {
    positive.push_back(run.labels[i] == k);
    scores.push_back(run.probs[i][static_cast<size_t>(k)]);
  }
  return roc_auc(positive, scores);
}

// The fold (from 1) that tested each image, repeat 1.
std::map<std::string, int64_t> fold_of_path(const PooledRun& p) {
  std::map<std::string, int64_t> fold;
  for (size_t i = 0; i < p.run.paths.size(); ++i) fold[p.run.paths[i]] = p.fold_of_row[i];
  return fold;
}

// "sensitivity 0.88, specificity 0.71" at the pooled per-fold validation thresholds.
std::string threshold_rates(const RunFolder& run) {
  if (!run.calibration || !run.calibration->malignant) return kDash;
  const BinaryRates& r = run.calibration->malignant->at_threshold;
  return fmt_metric(r.sensitivity) + " / " + fmt_metric(r.specificity);
}

std::string argmax_rates(const RunFolder& run) {
  if (!run.calibration || !run.calibration->malignant) return kDash;
  const BinaryRates& r = run.calibration->malignant->at_decision;
  return fmt_metric(r.sensitivity) + " / " + fmt_metric(r.specificity);
}

// The pooled accuracy and macro-F1 intervals with near-duplicate groups resampled whole, as
// the comparison report gives them (rows of one scan do not err independently).
void group_intervals(RunFolder& run, int rounds) {
  if (rounds <= 0 || run.groups.size() != run.paths.size()) return;
  const std::vector<Interval> cis =
      group_bootstrap_intervals(run.groups, rounds, 0, [&run](const std::vector<int64_t>& rows) {
        std::vector<int64_t> labels;
        std::vector<std::vector<float>> probs;
        for (const int64_t r : rows) {
          labels.push_back(run.labels[static_cast<size_t>(r)]);
          probs.push_back(run.probs[static_cast<size_t>(r)]);
        }
        const ClassificationMetrics m = compute_metrics(labels, probs, run.class_names, 0);
        return std::vector<double>{m.accuracy, m.macro_f1};
      });
  run.metrics.accuracy_ci = cis[0];
  run.metrics.macro_f1_ci = cis[1];
}

const FoldTest* find_test(const VariantTrial& t, const std::string& metric) {
  for (const FoldTest& f : t.tests)
    if (f.metric == metric) return &f;
  return nullptr;
}

}  // namespace

std::vector<std::vector<std::string>> cv_fold_dirs(const std::string& dir,
                                                   const std::string& model) {
  if (is_compare_folder(dir)) {
    const CvPlan plan = read_compare_plan(dir);
    BUSI_CHECK(std::find(plan.models.begin(), plan.models.end(), model) != plan.models.end(), dir,
               ": its comparison has no model '", model, "'");
    return plan.dirs_of(model);
  }
  std::vector<std::vector<std::string>> dirs;
  std::error_code ec;
  for (int r = 1; fs::is_directory(fs::path(dir) / ("repeat" + std::to_string(r)), ec); ++r) {
    std::vector<std::string> folds;
    for (int k = 1;; ++k) {
      const fs::path d =
          fs::path(dir) / ("repeat" + std::to_string(r)) / ("fold" + std::to_string(k)) / model;
      if (!fs::is_directory(d, ec)) break;
      folds.push_back(d.string());
    }
    BUSI_CHECK(folds.size() >= 2, (fs::path(dir) / ("repeat" + std::to_string(r))).string(),
               ": fewer than two folds of '", model, "' (fold<k>/", model, "/)");
    BUSI_CHECK(dirs.empty() || folds.size() == dirs[0].size(), dir, ": repeat ", r, " has ",
               folds.size(), " folds, repeat 1 has ", dirs[0].size());
    dirs.push_back(folds);
  }
  BUSI_CHECK(!dirs.empty(), dir,
             ": neither a compare folder (compare.json) nor one holding repeat1/", "fold<k>/",
             model, "/");
  return dirs;
}

VariantTrial run_variant_trial(const std::string& base_dir, const std::string& variant_dir,
                               const std::string& model, const std::string& variant_model,
                               int bootstrap_rounds) {
  VariantTrial t;
  t.base_dir = base_dir;
  t.variant_dir = variant_dir;
  t.model = model;
  t.variant_model = variant_model;
  t.base = load_pooled_run(cv_fold_dirs(base_dir, model), bootstrap_rounds);
  t.variant = load_pooled_run(cv_fold_dirs(variant_dir, variant_model), bootstrap_rounds);
  group_intervals(t.base.run, bootstrap_rounds);
  group_intervals(t.variant.run, bootstrap_rounds);
  BUSI_CHECK(t.base.folds.size() == t.variant.folds.size(), variant_dir, ": ",
             t.variant.folds.size(), " folds against ", t.base.folds.size(), " in ", base_dir);
  // Paired only when every image is tested in the same fold by both.
  const std::map<std::string, int64_t> a = fold_of_path(t.base), b = fold_of_path(t.variant);
  BUSI_CHECK(a.size() == b.size(), variant_dir, ": ", b.size(), " tested images against ", a.size(),
             " in ", base_dir, " (not the same folds)");
  for (const auto& [path, fold] : a) {
    const auto it = b.find(path);
    BUSI_CHECK(it != b.end() && it->second == fold, variant_dir, ": '", path, "' is tested in ",
               it == b.end() ? std::string("no fold") : "fold " + std::to_string(it->second),
               ", in fold ", fold, " in ", base_dir, " (not the same folds)");
  }
  t.tests = fold_tests(t.base.folds, t.variant.folds);
  // Malignant against the rest, per fold, by the same test.
  const int64_t k = malignant_index(t.base.run.class_names);
  if (k >= 0 && !t.tests.empty()) {
    FoldTest m;
    m.metric = "malignant_auc";
    m.label = "Malignant-vs-rest AUC";
    for (size_t j = 0; j < t.base.folds.size(); ++j) {
      m.a.push_back(t.base.folds[j].metrics.auc.at(static_cast<size_t>(k)));
      m.b.push_back(t.variant.folds[j].metrics.auc.at(static_cast<size_t>(k)));
    }
    m.test = corrected_resampled_t_test(m.a, m.b, t.tests[0].test.test_train_ratio);
    t.tests.push_back(std::move(m));
  }
  t.base_malignant_auc = pooled_malignant_auc(t.base.run);
  t.variant_malignant_auc = pooled_malignant_auc(t.variant.run);
  return t;
}

bool beats_standard_error(const CorrectedTTest& t) { return t.mean_difference > t.standard_error; }

std::string variant_trial_text(const VariantTrial& t) {
  const RunFolder& a = t.base.run;
  const RunFolder& b = t.variant.run;
  // One line of the pooled table: a label, then the base's and the variant's value.
  const auto line = [](const std::string& label, const std::string& x, const std::string& y) {
    std::string l = "  " + label;
    l.resize(std::max<size_t>(l.size() + 1, 48), ' ');
    std::string xs = x;
    xs.resize(std::max<size_t>(xs.size() + 1, 24), ' ');
    return l + xs + y + "\n";
  };
  const auto with_ci = [](double v, const Interval& ci) {
    return fmt_metric(v) + " " + fmt_interval(ci);
  };
  std::string s = model_title(t.model) + ": variant " + t.variant_dir + " against " + t.base_dir +
                  ", " + std::to_string(t.base.folds.size()) + " paired folds, " +
                  std::to_string(a.paths.size()) + " out-of-fold test images\n\n";
  s += line("pooled out-of-fold", "base", "variant");
  s += line("accuracy", with_ci(a.metrics.accuracy, a.metrics.accuracy_ci),
            with_ci(b.metrics.accuracy, b.metrics.accuracy_ci));
  s += line("macro-F1", with_ci(a.metrics.macro_f1, a.metrics.macro_f1_ci),
            with_ci(b.metrics.macro_f1, b.metrics.macro_f1_ci));
  s += line("balanced accuracy", fmt_metric(a.metrics.balanced_accuracy),
            fmt_metric(b.metrics.balanced_accuracy));
  s += line("malignant-vs-rest AUC", fmt_metric(t.base_malignant_auc),
            fmt_metric(t.variant_malignant_auc));
  s += line("malignant sens. / spec., argmax", argmax_rates(a), argmax_rates(b));
  s += line("malignant sens. / spec., fold thresholds", threshold_rates(a), threshold_rates(b));
  s += "\nvariant - base over the folds (corrected resampled t-test)\n";
  for (const FoldTest& f : t.tests)
    s += "  " + f.label + ": " + fmt_signed(f.test.mean_difference) + " +- " +
         printf_string("%.3f", f.test.standard_error) + " (95 % CI " + fmt_interval(f.test.ci) +
         ", p " + fmt_p_value(f.test.p_value) + ")" +
         (beats_standard_error(f.test) ? ", beats its standard error" : "") + "\n";
  const FoldTest* f1 = find_test(t, "macro_f1");
  s += std::string("\nverdict: the macro-F1 difference ") +
       (f1 && beats_standard_error(f1->test)
            ? "beats its standard error: adopt the variant"
            : "does not beat its standard error: keep the default") +
       "\n";
  return s;
}

std::string variant_trial_markdown_row(const VariantTrial& t, const std::string& name) {
  const RunFolder& b = t.variant.run;
  const FoldTest* f1 = find_test(t, "macro_f1");
  std::string diff = kDash, p = kDash, adopted = "no";
  if (f1) {
    diff = fmt_signed(f1->test.mean_difference) + " ± " +
           printf_string("%.3f", f1->test.standard_error);
    p = fmt_p_value(f1->test.p_value);
    adopted = beats_standard_error(f1->test) ? "yes" : "no";
  }
  return "| " + name + " | " + fmt_metric(b.metrics.accuracy) + " | " +
         fmt_metric(b.metrics.balanced_accuracy) + " | " + fmt_metric(b.metrics.macro_f1) + " | " +
         fmt_metric(t.variant_malignant_auc) + " | " + argmax_rates(b) + " | " +
         threshold_rates(b) + " | " + diff + " | " + p + " | " + adopted + " |";
}

}  // namespace busi::tools
