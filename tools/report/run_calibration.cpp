// Recomputing a run's calibration for the report (see run_calibration.h).
#include "tools/report/run_calibration.h"

#include <algorithm>
#include <cmath>

#include "tools/report/format.h"
#include "tools/report/run_reader.h"

namespace busi::tools {

namespace {

// The disagreement metrics.json may have with what predictions.csv gives: both are written
// from the same floats (predictions.csv in their shortest exact form), so anything beyond
// rounding means the two files are not of the same run, or one was edited.
constexpr double kTolerance = 1e-6;

const Json* path_in(const Json& j, std::initializer_list<const char*> keys) {
  const Json* at = &j;
  for (const char* key : keys) {
    at = at->is_object() ? at->find(key) : nullptr;
    if (!at) return nullptr;
  }
  return at;
}

// A warning when metrics.json's value differs from the recomputed one.
void cross_check(RunFolder& run, std::initializer_list<const char*> keys, double recomputed,
                 const std::string& what, const std::string& metrics_path) {
  const Json* value = path_in(run.summary, keys);
  if (!value || !value->is_number() || !std::isfinite(recomputed)) return;
  if (std::abs(value->as_number() - recomputed) > kTolerance)
    run.warnings.push_back(metrics_path + ": " + what + " " + fmt_metric(value->as_number()) +
                           " differs from " + fmt_metric(recomputed) +
                           " recomputed from predictions.csv");
}

// predictions.csv's calibrated_prob_<class> columns are softmax(z / T) with the run's own T;
// the largest difference from softmax(z / T) with metrics.json's T says whether the two agree.
void check_temperature(RunFolder& run, const std::vector<std::vector<double>>& calibrated,
                       double temperature, const std::string& metrics_path) {
  if (run.calibrated_probs.size() != calibrated.size()) return;  // no such columns
  double worst = 0.0;
  for (size_t i = 0; i < calibrated.size(); ++i)
    for (size_t k = 0; k < calibrated[i].size(); ++k)
      worst = std::max(worst, std::abs(run.calibrated_probs[i][k] - calibrated[i][k]));
  if (worst > kTolerance)
    run.warnings.push_back(metrics_path + ": temperature " + printf_string("%.4g", temperature) +
                           " does not reproduce predictions.csv's calibrated_prob columns "
                           "(largest difference " +
                           printf_string("%.2g", worst) + "); the report uses this temperature");
}

}  // namespace

void read_run_calibration(RunFolder& run, const std::string& metrics_path, int bootstrap_rounds,
                          uint64_t bootstrap_seed) {
  const Json* temperature = path_in(run.summary, {"calibration", "temperature"});
  if (run.logits.empty() || !temperature || !temperature->is_number()) {
    run.calibration_missing = std::string("this run has no ") +
                              (run.logits.empty() ? "logits" : "temperature") +
                              " (trained before calibration was added)";
    return;
  }
  RunCalibration c;
  c.temperature = temperature->as_number();
  if (!(c.temperature > 0) || !std::isfinite(c.temperature)) {
    run.calibration_missing = "metrics.json's temperature is not a positive number";
    run.warnings.push_back(metrics_path + ": " + run.calibration_missing);
    return;
  }
  if (const Json* n = path_in(run.summary, {"calibration", "validation", "raw", "n"});
      n && n->is_number())
    c.validation_images = static_cast<int64_t>(n->as_number());
  c.raw =
      score_logits(run.logits, run.labels, 1.0, kCalibrationBins, bootstrap_rounds, bootstrap_seed);
  c.calibrated = score_logits(run.logits, run.labels, c.temperature, kCalibrationBins,
                              bootstrap_rounds, bootstrap_seed);
  const std::vector<std::vector<double>> calibrated =
      softmax_with_temperature(run.logits, c.temperature);
  check_temperature(run, calibrated, c.temperature, metrics_path);
  cross_check(run, {"calibration", "test", "raw", "ece"}, c.raw.ece, "raw test ECE", metrics_path);
  cross_check(run, {"calibration", "test", "calibrated", "ece"}, c.calibrated.ece,
              "calibrated test ECE", metrics_path);

  const std::vector<std::string>& names = run.class_names;
  const auto found = std::find(names.begin(), names.end(), kMalignantClass);
  const Json* threshold = path_in(run.summary, {"malignant", "threshold"});
  if (found == names.end()) {
    c.malignant_missing = "no class named malignant";
  } else if (!threshold || !threshold->is_number()) {
    // The trainer writes a string instead of the object when it could not choose a threshold.
    const Json* note = run.summary.find("malignant");
    c.malignant_missing =
        note && note->is_string() ? note->as_string() : "metrics.json has no malignant threshold";
  } else {
    const auto m = static_cast<int64_t>(found - names.begin());
    const Json* target = path_in(run.summary, {"malignant", "target_sensitivity"});
    c.malignant = operating_point_at(
        m, kMalignantClass, threshold->as_number(),
        target && target->is_number() ? target->as_number() : kMalignantSensitivity, run.labels,
        calibrated, bootstrap_rounds, bootstrap_seed);
    if (const Json* val = path_in(run.summary, {"malignant", "validation"}))
      c.malignant_validation = *val;
    cross_check(run, {"malignant", "at_threshold", "sensitivity"},
                c.malignant->at_threshold.sensitivity, "malignant test sensitivity", metrics_path);
  }
  run.calibration = std::move(c);
}

}  // namespace busi::tools
