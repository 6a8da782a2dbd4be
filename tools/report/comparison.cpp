// Comparing two runs (see comparison.h): the metric table with bootstrap intervals, the pairing of
// the test predictions by path, McNemar's test and its interpretation.
#include "tools/report/comparison.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "kernels/common/error.h"
#include "tools/report/format.h"
#include "tools/report/run_facts.h"

namespace busi::tools {

namespace {

MetricRow metric_row(std::string key, std::string label, int class_index = -1) {
  MetricRow row;
  row.key = std::move(key);
  row.label = std::move(label);
  row.class_index = class_index;
  return row;
}

// The table's metrics, in row order; metric_values() returns them in the same order.
std::vector<MetricRow> metric_row_templates(const std::vector<std::string>& class_names) {
  std::vector<MetricRow> rows = {
      metric_row("accuracy", "Accuracy"), metric_row("balanced_accuracy", "Balanced accuracy"),
      metric_row("macro_f1", "Macro-F1"), metric_row("macro_auc", "Macro ROC-AUC")};
  for (size_t c = 0; c < class_names.size(); ++c) {
    const int k = static_cast<int>(c);
    rows.push_back(metric_row(class_names[c] + ".precision", "Precision", k));
    rows.push_back(metric_row(class_names[c] + ".recall", "Recall", k));
    rows.push_back(metric_row(class_names[c] + ".f1", "F1", k));
    rows.push_back(metric_row(class_names[c] + ".auc", "ROC-AUC (one-vs-rest)", k));
  }
  return rows;
}

std::vector<double> metric_values(const ClassificationMetrics& m) {
  std::vector<double> v = {m.accuracy, m.balanced_accuracy, m.macro_f1, m.macro_auc};
  for (size_t c = 0; c < m.class_names.size(); ++c) {
    v.push_back(m.precision[c]);
    v.push_back(m.recall[c]);
    v.push_back(m.f1[c]);
    v.push_back(m.auc[c]);
  }
  return v;
}

// The metrics of a subset (or resample) of a run's test rows, without intervals.
std::vector<double> metric_values_of_rows(const RunFolder& run, const std::vector<int64_t>& rows) {
  std::vector<int64_t> labels;
  std::vector<std::vector<float>> probs;
  for (const int64_t r : rows) {
    labels.push_back(run.labels[static_cast<size_t>(r)]);
    probs.push_back(run.probs[static_cast<size_t>(r)]);
  }
  return metric_values(compute_metrics(labels, probs, run.class_names, 0));
}

std::vector<double> difference(const std::vector<double>& b, const std::vector<double>& a) {
  std::vector<double> d;
  for (size_t i = 0; i < a.size(); ++i) d.push_back(b[i] - a[i]);
  return d;
}

std::string interpret_mcnemar(const PairedComparison& p, const std::string& name_a,
                              const std::string& name_b) {
  if (p.paired == 0)
    return "McNemar's test needs both models' predictions on the same images; these runs share "
           "no test image.";
  const int64_t b = p.mcnemar.a_right_b_wrong, c = p.mcnemar.a_wrong_b_right;
  if (b + c == 0)
    return "The two models are right and wrong on exactly the same " + std::to_string(p.paired) +
           " images: no evidence that either makes fewer errors.";
  const bool a_better = b > c;
  const std::string& better = a_better ? name_a : name_b;
  const std::string& worse = a_better ? name_b : name_a;
  const int64_t more = std::max(b, c), fewer = std::min(b, c);
  if (p.mcnemar.p_value < 0.05)
    return better + " is right on " + std::to_string(more) + " images where " + worse +
           " is wrong, against " + std::to_string(fewer) +
           " the other way round: the difference in error rates is statistically significant "
           "at the 5 % level (exact p = " +
           fmt_p_value(p.mcnemar.p_value) + ").";
  return "The models disagree on " + std::to_string(b + c) + " of " + std::to_string(p.paired) +
         " images (" + name_a + " right on " + std::to_string(b) + ", " + name_b + " right on " +
         std::to_string(c) + "); with p = " + fmt_p_value(p.mcnemar.p_value) +
         " this is no significant evidence that one makes fewer errors than the other.";
}

// Test rows of A and B showing the same image (matched by path, labels agreeing).
struct Pairing {
  std::vector<int64_t> rows_a, rows_b;
  int64_t label_conflicts = 0;  // same path, different labels: left out
};

Pairing pair_by_path(const RunFolder& a, const RunFolder& b) {
  std::map<std::string, size_t> row_in_b;
  for (size_t i = 0; i < b.paths.size(); ++i) row_in_b[b.paths[i]] = i;
  Pairing pairing;
  for (size_t i = 0; i < a.paths.size(); ++i) {
    const auto it = row_in_b.find(a.paths[i]);
    if (it == row_in_b.end()) continue;
    if (a.labels[i] != b.labels[it->second]) {
      ++pairing.label_conflicts;
      continue;
    }
    pairing.rows_a.push_back(static_cast<int64_t>(i));
    pairing.rows_b.push_back(static_cast<int64_t>(it->second));
  }
  return pairing;
}

// The 2 x 2 table of right/wrong on the paired images, and McNemar's test on it.
PairedComparison paired_test(const RunFolder& a, const RunFolder& b, const Pairing& pairing) {
  PairedComparison p;
  p.paired = static_cast<int64_t>(pairing.rows_a.size());
  p.only_in_a = static_cast<int64_t>(a.paths.size()) - p.paired - pairing.label_conflicts;
  p.only_in_b = static_cast<int64_t>(b.paths.size()) - p.paired - pairing.label_conflicts;
  std::vector<int64_t> labels, pred_a, pred_b;
  for (size_t i = 0; i < pairing.rows_a.size(); ++i) {
    const int64_t label = a.labels[static_cast<size_t>(pairing.rows_a[i])];
    const bool a_right = a.preds[static_cast<size_t>(pairing.rows_a[i])] == label;
    const bool b_right = b.preds[static_cast<size_t>(pairing.rows_b[i])] == label;
    labels.push_back(label);
    pred_a.push_back(a.preds[static_cast<size_t>(pairing.rows_a[i])]);
    pred_b.push_back(b.preds[static_cast<size_t>(pairing.rows_b[i])]);
    p.both_right += a_right && b_right;
    p.both_wrong += !a_right && !b_right;
  }
  p.mcnemar = mcnemar(labels, pred_a, pred_b);
  p.interpretation = interpret_mcnemar(p, a.display_name, b.display_name);
  return p;
}

std::vector<std::string> pairing_warnings(const RunFolder& a, const RunFolder& b,
                                          const Pairing& pairing, const PairedComparison& p) {
  std::vector<std::string> warnings;
  if (pairing.label_conflicts > 0)
    warnings.push_back(std::to_string(pairing.label_conflicts) +
                       " test images have different labels in the two runs; left out of the "
                       "paired comparison");
  if (p.only_in_a > 0 || p.only_in_b > 0)
    warnings.push_back("The runs' test sets differ (" + std::to_string(p.only_in_a) +
                       " images only in " + a.display_name + ", " + std::to_string(p.only_in_b) +
                       " only in " + b.display_name + "); differences and McNemar's test use the " +
                       std::to_string(p.paired) + " shared images");
  if (a.split && b.split && a.split->rows != b.split->rows)
    warnings.push_back("split.csv differs between the two run folders");
  return warnings;
}

// Bootstrap intervals over `rows` rows: whole near-duplicate groups resampled when the groups
// are known (groups[i] of row i), single rows otherwise.
std::vector<Interval> intervals_over(
    int64_t rows, const std::vector<int64_t>& groups, const ReportOptions& options,
    const std::function<std::vector<double>(const std::vector<int64_t>&)>& statistics) {
  if (static_cast<int64_t>(groups.size()) == rows)
    return group_bootstrap_intervals(groups, options.bootstrap_rounds, options.bootstrap_seed,
                                     statistics);
  return bootstrap_intervals(rows, options.bootstrap_rounds, options.bootstrap_seed, statistics);
}

// One model's test predictions in every repeat of a cross-validation (one run otherwise): the
// runs, and for each run the row that holds each of the first run's images.
struct RepeatedRows {
  std::vector<const RunFolder*> runs;
  std::vector<std::vector<int64_t>> row_of;  // row_of[r][i]: the row of runs[0]'s row i in run r

  RepeatedRows(const RunFolder& first, const std::vector<RunFolder>& later) {
    runs.push_back(&first);
    std::vector<int64_t> identity(first.paths.size());
    for (size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int64_t>(i);
    row_of.push_back(std::move(identity));
    for (const RunFolder& run : later) {
      std::map<std::string, int64_t> row_by_path;
      for (size_t i = 0; i < run.paths.size(); ++i)
        row_by_path[run.paths[i]] = static_cast<int64_t>(i);
      BUSI_CHECK(run.paths.size() == first.paths.size(), run.dir, ": a repeat tests ",
                 run.paths.size(), " images, the first ", first.paths.size());
      std::vector<int64_t> rows;
      for (size_t i = 0; i < first.paths.size(); ++i) {
        const auto it = row_by_path.find(first.paths[i]);
        BUSI_CHECK(it != row_by_path.end(), run.dir, ": '", first.paths[i],
                   "' is tested in the first repeat but not in this one");
        BUSI_CHECK(run.labels[static_cast<size_t>(it->second)] == first.labels[i], run.dir, ": '",
                   first.paths[i], "' has another label than in the first repeat");
        rows.push_back(it->second);
      }
      runs.push_back(&run);
      row_of.push_back(std::move(rows));
    }
  }

  // The metrics of the first run's rows `idx`, averaged over the repeats: each repeat scored on
  // the same images (a bootstrap resample draws an image with its predictions in every repeat).
  std::vector<double> mean_metric_values(const std::vector<int64_t>& idx) const {
    std::vector<double> mean;
    for (size_t r = 0; r < runs.size(); ++r) {
      std::vector<int64_t> rows;
      rows.reserve(idx.size());
      for (const int64_t i : idx) rows.push_back(row_of[r][static_cast<size_t>(i)]);
      const std::vector<double> v = metric_values_of_rows(*runs[r], rows);
      if (mean.empty()) mean.assign(v.size(), 0.0);
      for (size_t m = 0; m < v.size(); ++m) mean[m] += v[m] / static_cast<double>(runs.size());
    }
    return mean;
  }
};

// The side-by-side table: each model's values and intervals over its own test rows; the
// difference B - A and its interval by a paired bootstrap over the shared images (one resample
// picks the same images for both models, so the interval accounts for their correlation). Both
// resample near-duplicate groups whole when split.csv gives them. With repeats (later_a,
// later_b: repeat 2 on), every value is the mean over the repeats of the metric on the same
// images, and the bootstrap draws each image with all its repeats' predictions: the models'
// training noise is averaged, not the images' sampling, which stays what the interval measures.
std::vector<MetricRow> metric_table(const RunFolder& a, const RunFolder& b, const Pairing& pairing,
                                    const ReportOptions& options,
                                    const std::vector<RunFolder>& later_a,
                                    const std::vector<RunFolder>& later_b) {
  const RepeatedRows repeated_a(a, later_a), repeated_b(b, later_b);
  const auto intervals_of = [&](const RunFolder& run, const RepeatedRows& repeated) {
    return intervals_over(
        static_cast<int64_t>(run.paths.size()), run.groups, options,
        [&](const std::vector<int64_t>& idx) { return repeated.mean_metric_values(idx); });
  };
  const auto paired_difference = [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> sample_a, sample_b;
    for (const int64_t i : idx) {
      sample_a.push_back(pairing.rows_a[static_cast<size_t>(i)]);
      sample_b.push_back(pairing.rows_b[static_cast<size_t>(i)]);
    }
    return difference(repeated_b.mean_metric_values(sample_b),
                      repeated_a.mean_metric_values(sample_a));
  };

  std::vector<MetricRow> rows = metric_row_templates(a.class_names);
  // One repeat: the pooled metrics as computed when the run was read (the same values).
  // row_of[0] is every row of the first repeat.
  const std::vector<double> values_a = later_a.empty()
                                           ? metric_values(a.metrics)
                                           : repeated_a.mean_metric_values(repeated_a.row_of[0]);
  const std::vector<double> values_b = later_b.empty()
                                           ? metric_values(b.metrics)
                                           : repeated_b.mean_metric_values(repeated_b.row_of[0]);
  const std::vector<Interval> cis_a = intervals_of(a, repeated_a),
                              cis_b = intervals_of(b, repeated_b);
  const auto n_paired = static_cast<int64_t>(pairing.rows_a.size());
  std::vector<double> diffs(rows.size(), std::nan(""));
  std::vector<Interval> diff_cis;
  if (n_paired > 0) {
    std::vector<int64_t> all(static_cast<size_t>(n_paired));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    diffs = paired_difference(all);
    std::vector<int64_t> paired_groups;  // A's groups of the paired rows
    if (a.groups.size() == a.paths.size())
      for (const int64_t r : pairing.rows_a)
        paired_groups.push_back(a.groups[static_cast<size_t>(r)]);
    diff_cis = intervals_over(n_paired, paired_groups, options, paired_difference);
  }
  const Interval none{std::nan(""), std::nan("")};  // no bootstrap asked for, or no pairs
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].a = values_a[i];
    rows[i].b = values_b[i];
    rows[i].difference = diffs[i];
    rows[i].a_ci = i < cis_a.size() ? cis_a[i] : none;
    rows[i].b_ci = i < cis_b.size() ? cis_b[i] : none;
    rows[i].difference_ci = i < diff_cis.size() ? diff_cis[i] : none;
  }
  return rows;
}

}  // namespace

Comparison compare_runs(RunFolder a, RunFolder b, const ReportOptions& options,
                        const std::vector<RunFolder>& later_a,
                        const std::vector<RunFolder>& later_b) {
  BUSI_CHECK(later_a.size() == later_b.size(), a.dir, " and ", b.dir, ": ", later_a.size() + 1,
             " and ", later_b.size() + 1, " repeats; the table averages the same repeats");
  BUSI_CHECK(a.class_names == b.class_names, a.dir, " and ", b.dir,
             ": predictions.csv files have different class columns; cannot compare");
  if (a.display_name == b.display_name) {  // two runs of one model: tell them apart
    const std::string init_a = short_initialisation(a), init_b = short_initialisation(b);
    const bool by_init = !init_a.empty() && !init_b.empty() && init_a != init_b;
    a.display_name += by_init ? " (" + init_a + ")" : " (A)";
    b.display_name += by_init ? " (" + init_b + ")" : " (B)";
  }
  Comparison c;
  c.options = options;
  c.environment = current_environment();
  const Pairing pairing = pair_by_path(a, b);
  c.paired = paired_test(a, b, pairing);
  c.rows = metric_table(a, b, pairing, options, later_a, later_b);
  c.repeats_in_table = static_cast<int64_t>(later_a.size()) + 1;
  for (const auto* list : {&a.warnings, &b.warnings})
    c.warnings.insert(c.warnings.end(), list->begin(), list->end());
  for (const std::string& w : pairing_warnings(a, b, pairing, c.paired)) c.warnings.push_back(w);
  c.a = std::move(a);
  c.b = std::move(b);
  return c;
}

Comparison build_comparison(const std::string& dir_a, const std::string& dir_b,
                            const ReportOptions& options) {
  return compare_runs(load_run_folder(dir_a, options.bootstrap_rounds, options.bootstrap_seed),
                      load_run_folder(dir_b, options.bootstrap_rounds, options.bootstrap_seed),
                      options);
}

Comparison build_cv_comparison(const CvPlan& plan, const ReportOptions& options) {
  PooledRun a = load_pooled_run(plan.dirs_of(plan.models[0]), options.bootstrap_rounds,
                                options.bootstrap_seed);
  PooledRun b = load_pooled_run(plan.dirs_of(plan.models[1]), options.bootstrap_rounds,
                                options.bootstrap_seed);
  CrossValidation cv;
  cv.out = plan.out;
  cv.folds = plan.folds;
  cv.repeats = plan.repeats;
  cv.seed = plan.seed;
  cv.folds_a = a.folds;
  cv.folds_b = b.folds;
  cv.tests = fold_tests(a.folds, b.folds);
  cv.test_train_ratio = cv.tests.empty() ? 0 : cv.tests[0].test.test_train_ratio;
  if (plan.ablation()) {
    PooledRun c = load_pooled_run(plan.dirs_of("vgg16_random"), options.bootstrap_rounds,
                                  options.bootstrap_seed);
    c.run.display_name = "VGG16 (random init)";
    cv.architecture = fold_tests(a.folds, c.folds);
    cv.pretraining = fold_tests(c.folds, b.folds);
    cv.ablation = std::move(c);
  }
  const std::filesystem::path external = std::filesystem::path(plan.out) / "external";
  std::error_code ec;
  if (std::filesystem::is_directory(external, ec)) {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(external))
      if (std::filesystem::is_regular_file(entry.path() / "external.json"))
        files.push_back((entry.path() / "external.json").string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) cv.external.push_back(read_json_file(f));
  }
  const std::filesystem::path panel = std::filesystem::path(plan.out) / kGradcamPanelFile;
  if (std::filesystem::is_regular_file(panel, ec))
    cv.gradcam_panel = read_json_file(panel.string());
  Comparison comparison =
      compare_runs(std::move(a.run), std::move(b.run), options, a.later_repeats, b.later_repeats);
  cv.headline = cv_headline(comparison.a.display_name, comparison.b.display_name, cv);
  comparison.cv = std::move(cv);
  return comparison;
}

const MetricRow& row_named(const Comparison& c, const std::string& key) {
  for (const MetricRow& r : c.rows)
    if (r.key == key) return r;
  throw Error("report: no metric row '" + key + "'");
}

std::string headline(const Comparison& c) {
  // Cross-validated: the verdict over the folds, which counts how the trained models vary too
  // (the pooled bootstrap below treats them as fixed, so its interval is narrower).
  if (c.cv) return c.cv->headline;
  const MetricRow& f1 = row_named(c, "macro_f1");
  if (!std::isfinite(f1.difference)) return "";
  const bool b_higher = f1.difference > 0;
  const std::string& higher = b_higher ? c.b.display_name : c.a.display_name;
  const std::string& lower = b_higher ? c.a.display_name : c.b.display_name;
  std::string s = higher + " has the higher test macro-F1 (" + fmt_signed(std::abs(f1.difference)) +
                  " over " + lower;
  const std::string ci = fmt_interval(f1.difference_ci);
  if (!ci.empty())
    s += "; 95 % CI of " + c.b.display_name + " \u2212 " + c.a.display_name + ": " + ci;
  s += excludes_zero(f1.difference_ci) ? ", which excludes 0)." : ", which includes 0).";
  return s;
}

}  // namespace busi::tools
