// A run folder's calibration as the report shows it, recomputed from predictions.csv's logits and
// the temperature in metrics.json: NLL, Brier score and ECE before and after temperature scaling,
// and the malignant operating point at the run's validation threshold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/formats/json_value.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/operating_point.h"

namespace busi::tools {

struct RunFolder;

struct RunCalibration {
  double temperature = 1.0;           // fitted on the run's validation subset (metrics.json)
  int64_t validation_images = -1;     // how many it was fitted on (metrics.json; -1 when unknown)
  CalibrationScores raw, calibrated;  // on the test images
  // Malignant against the rest on the calibrated probabilities, at the argmax and at the
  // threshold the run chose on validation; absent (with the reason) when the run has none.
  std::optional<OperatingPoint> malignant;
  Json malignant_validation;  // metrics.json's malignant.validation rates (not recomputable)
  std::string malignant_missing;
  // Pooled out-of-fold predictions (pooled_run.h): each fold fitted its own temperature and
  // chose its own threshold; these say their range ("0.85 to 1.42"), and `temperature` and
  // malignant->threshold are then their means. Empty for one run.
  std::string temperature_range, threshold_range;
};

// Sets run.calibration from run.logits, run.labels and run.summary (metrics.json, at
// `metrics_path`), or run.calibration_missing when the run predates calibration (no logits or
// no temperature). Appended to run.warnings: metrics.json's calibrated test ECE or malignant test
// sensitivity differing from the recomputed ones by more than 1e-6, and a temperature that does
// not reproduce predictions.csv's calibrated_prob_<class> columns.
void read_run_calibration(RunFolder& run, const std::string& metrics_path, int bootstrap_rounds,
                          uint64_t bootstrap_seed);

}  // namespace busi::tools
