// What the test evaluation adds to the plain metrics: a temperature fitted on the validation
// subset (temperature scaling), the calibration scores before and after it on both subsets, the
// malignant-against-the-rest operating point; and predictions.csv, which keeps the logits so
// that the report can recompute all of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "tools/formats/json_value.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/operating_point.h"
#include "tools/train/evaluate.h"

namespace busi::tools {

// Checkpoint settings written beside the weights once the run is calibrated (predict reads them).
inline constexpr const char* kTemperatureKey = "temperature";
inline constexpr const char* kMalignantThresholdKey = "malignant_threshold";
// "true" when both were fitted on flip-averaged probabilities (train_simple --tta flip).
inline constexpr const char* kTestTimeFlipKey = "test_time_flip";

struct CalibratedTest {
  double temperature = 1.0;  // fitted on validation; the probabilities are softmax(z / T)
  CalibrationScores val_raw, val_calibrated, test_raw, test_calibrated;
  std::optional<OperatingPoint> malignant;  // on the calibrated probabilities
  std::string malignant_note;               // why there is no operating point, when there is none
};

// Fits T on `val` (its logits), scores both subsets raw and calibrated and reads the malignant
// class at its default decision and at the threshold chosen on validation for 90 % sensitivity.
CalibratedTest calibrate_test(const Evaluation& val, const Evaluation& test,
                              const std::vector<std::string>& class_names,
                              int bootstrap_rounds = 1000, uint64_t bootstrap_seed = 0);

// metrics.json's "calibration" object: temperature, fitted_on, bins, validation {raw,
// calibrated} (scores without reliability bins), test {raw, calibrated} (calibration_to_json).
Json calibration_json(const CalibratedTest& c);

// predictions.csv: path, label, pred, prob_<class>... (raw softmax, what ROC and the metrics
// use), calibrated_prob_<class>... (softmax(z / T)), logit_<class>....
void write_predictions_csv(const std::string& path, const data::DatasetIndex& index,
                           const std::vector<std::string>& class_names, const Evaluation& test,
                           double temperature);

}  // namespace busi::tools
