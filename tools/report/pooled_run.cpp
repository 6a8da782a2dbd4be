// Reading the folds of one model back as one pooled run (see pooled_run.h).
#include "tools/report/pooled_run.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "kernels/common/error.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/operating_point.h"
#include "tools/report/format.h"

namespace busi::tools {

namespace {

const Json* number_at(const Json& j, std::initializer_list<const char*> keys) {
  const Json* at = &j;
  for (const char* key : keys) {
    at = at->is_object() ? at->find(key) : nullptr;
    if (!at) return nullptr;
  }
  return at->is_number() ? at : nullptr;
}

double number_or_nan(const Json& j, std::initializer_list<const char*> keys) {
  const Json* n = number_at(j, keys);
  return n ? n->as_number() : std::nan("");
}

// The images of each subset in a run's split.csv.
void count_subsets(const RunFolder& run, FoldResult& f) {
  if (!run.split) return;
  const int subset = run.split->column_index("subset");
  if (subset < 0) return;
  for (const auto& row : run.split->rows) {
    const std::string& s = row[static_cast<size_t>(subset)];
    f.train_images += s == "train";
    f.val_images += s == "val";
    f.test_images += s == "test";
  }
}

// "0.85 to 1.42" over the finite values; "" when there are none.
std::string range_text(const std::vector<double>& values, const char* format) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return "";
  return printf_string(format, lo) + " to " + printf_string(format, hi);
}

double mean_of_finite(const std::vector<double>& values) {
  double sum = 0;
  int n = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++n;
  return n ? sum / n : std::nan("");
}

// The pooled calibration: the raw scores from the pooled logits, the calibrated ones from the
// probabilities each fold calibrated with its own temperature, and the malignant operating point
// with each row judged at its own fold's threshold.
void pool_calibration(RunFolder& run, const std::vector<const RunFolder*>& folds, int rounds,
                      uint64_t seed) {
  for (const RunFolder* f : folds)
    if (!f->calibration || f->calibrated_probs.size() != f->paths.size()) {
      run.calibration_missing =
          f->dir + ": " + (f->calibration ? "no calibrated probabilities" : f->calibration_missing);
      return;
    }
  RunCalibration c;
  std::vector<double> temperatures, thresholds;
  std::vector<double> row_threshold;
  int64_t validation_images = 0;
  for (const RunFolder* f : folds) {
    temperatures.push_back(f->calibration->temperature);
    validation_images += std::max<int64_t>(0, f->calibration->validation_images);
    const double t =
        f->calibration->malignant ? f->calibration->malignant->threshold : std::nan("");
    thresholds.push_back(t);
    row_threshold.insert(row_threshold.end(), f->paths.size(), t);
  }
  c.temperature = mean_of_finite(temperatures);
  c.temperature_range = range_text(temperatures, "%.2f");
  c.validation_images = validation_images;
  c.raw = score_logits(run.logits, run.labels, 1.0, kCalibrationBins, rounds, seed);
  c.calibrated =
      score_probabilities(run.calibrated_probs, run.labels, kCalibrationBins, rounds, seed);
  const auto m = std::find(run.class_names.begin(), run.class_names.end(), kMalignantClass);
  if (m == run.class_names.end()) {
    c.malignant_missing = "no class named malignant";
  } else if (std::any_of(thresholds.begin(), thresholds.end(),
                         [](double t) { return !std::isfinite(t); })) {
    c.malignant_missing = "a fold chose no malignant threshold";
  } else {
    const auto k = static_cast<size_t>(m - run.class_names.begin());
    OperatingPoint op;
    op.class_name = kMalignantClass;
    op.class_index = static_cast<int64_t>(k);
    op.target_sensitivity = kMalignantSensitivity;
    op.threshold = mean_of_finite(thresholds);
    std::vector<int> positive, at_argmax, at_threshold;
    for (size_t i = 0; i < run.labels.size(); ++i) {
      positive.push_back(run.labels[i] == static_cast<int64_t>(k));
      at_argmax.push_back(run.preds[i] == static_cast<int64_t>(k));
      at_threshold.push_back(run.calibrated_probs[i][k] >= row_threshold[i]);
    }
    op.at_decision = binary_rates(positive, at_argmax, rounds, seed);
    op.at_threshold = binary_rates(positive, at_threshold, rounds, seed);
    c.malignant = op;
    c.threshold_range = range_text(thresholds, "%.3f");
  }
  run.calibration = std::move(c);
}

}  // namespace

std::vector<int64_t> groups_of_rows(const RunFolder& run) {
  if (!run.split) return {};
  const int path = run.split->column_index("path"), group = run.split->column_index("group");
  if (path < 0 || group < 0) return {};
  std::map<std::string, int64_t> group_of;
  for (const auto& row : run.split->rows)
    group_of[row[static_cast<size_t>(path)]] = std::stoll(row[static_cast<size_t>(group)]);
  std::vector<int64_t> groups;
  for (const std::string& p : run.paths) {
    const auto it = group_of.find(p);
    if (it == group_of.end()) return {};  // a split.csv of other images: no groups
    groups.push_back(it->second);
  }
  return groups;
}

namespace {

// The folds of one repeat as one run: fold 1's folder stands for the facts all folds share;
// fold_of_row receives each row's fold (from 1).
RunFolder pool_folds(const std::vector<RunFolder>& folds, int rounds, uint64_t seed,
                     std::vector<int64_t>& fold_of_row) {
  RunFolder pooled = folds[0];
  pooled.paths.clear();
  pooled.labels.clear();
  pooled.probs.clear();
  pooled.logits.clear();
  pooled.calibrated_probs.clear();
  pooled.groups.clear();
  pooled.warnings.clear();
  double seconds = 0;
  std::set<std::string> seen;
  std::vector<const RunFolder*> pointers;
  for (size_t k = 0; k < folds.size(); ++k) {
    const RunFolder& f = folds[k];
    BUSI_CHECK(f.class_names == pooled.class_names, f.dir,
               ": its classes differ from fold 1's; the folds are not of one comparison");
    BUSI_CHECK(f.model == pooled.model, f.dir, ": model '", f.model, "', fold 1 has '",
               pooled.model, "'");
    for (const std::string& path : f.paths)
      BUSI_CHECK(seen.insert(path).second, f.dir, ": '", path,
                 "' is tested in two folds (the folds do not partition the images)");
    pooled.paths.insert(pooled.paths.end(), f.paths.begin(), f.paths.end());
    pooled.labels.insert(pooled.labels.end(), f.labels.begin(), f.labels.end());
    pooled.probs.insert(pooled.probs.end(), f.probs.begin(), f.probs.end());
    pooled.logits.insert(pooled.logits.end(), f.logits.begin(), f.logits.end());
    pooled.calibrated_probs.insert(pooled.calibrated_probs.end(), f.calibrated_probs.begin(),
                                   f.calibrated_probs.end());
    const std::vector<int64_t> groups = groups_of_rows(f);
    pooled.groups.insert(pooled.groups.end(), groups.begin(), groups.end());
    fold_of_row.insert(fold_of_row.end(), f.paths.size(), static_cast<int64_t>(k + 1));
    for (const std::string& w : f.warnings) pooled.warnings.push_back(w);
    seconds += number_or_nan(f.summary, {"training_seconds"});
    pointers.push_back(&f);
  }
  if (pooled.groups.size() != pooled.paths.size()) pooled.groups.clear();  // a fold without
  if (pooled.logits.size() != pooled.paths.size()) pooled.logits.clear();
  if (pooled.calibrated_probs.size() != pooled.paths.size()) pooled.calibrated_probs.clear();
  pooled.preds = argmax_predictions(pooled.probs);
  pooled.metrics = compute_metrics(pooled.labels, pooled.probs, pooled.class_names, rounds, seed);
  pooled.summary["training_seconds"] = seconds;  // all folds of the repeat
  pooled.calibration.reset();
  pooled.calibration_missing.clear();
  pool_calibration(pooled, pointers, rounds, seed);
  return pooled;
}

}  // namespace

PooledRun load_pooled_run(const std::vector<std::vector<std::string>>& dirs_by_repeat,
                          int bootstrap_rounds, uint64_t bootstrap_seed) {
  BUSI_CHECK(!dirs_by_repeat.empty() && !dirs_by_repeat[0].empty(),
             "load_pooled_run: no fold folders");
  PooledRun p;
  std::vector<std::vector<RunFolder>> repeats(dirs_by_repeat.size());
  for (size_t r = 0; r < dirs_by_repeat.size(); ++r)
    for (size_t k = 0; k < dirs_by_repeat[r].size(); ++k) {
      RunFolder run = load_run_folder(dirs_by_repeat[r][k], 0, bootstrap_seed);
      FoldResult f;
      f.repeat = static_cast<int64_t>(r + 1);
      f.fold = static_cast<int64_t>(k + 1);
      f.dir = run.dir;
      count_subsets(run, f);
      f.metrics = run.metrics;
      f.temperature = number_or_nan(run.summary, {"calibration", "temperature"});
      f.malignant_threshold = number_or_nan(run.summary, {"malignant", "threshold"});
      f.training_seconds = number_or_nan(run.summary, {"training_seconds"});
      p.folds.push_back(f);
      repeats[r].push_back(std::move(run));
    }
  p.run = pool_folds(repeats[0], bootstrap_rounds, bootstrap_seed, p.fold_of_row);
  for (size_t r = 1; r < repeats.size(); ++r) {
    std::vector<int64_t> folds_of_rows;  // not kept: the fold tables read FoldResult
    p.later_repeats.push_back(pool_folds(repeats[r], 0, bootstrap_seed, folds_of_rows));
  }
  // The cost of the model: every fold of every repeat.
  double seconds = 0;
  for (const FoldResult& f : p.folds) seconds += f.training_seconds;
  p.run.summary["training_seconds"] = seconds;
  return p;
}

}  // namespace busi::tools
