// Temperature scaling, calibration scores and the malignant operating point of a finished run
// (see calibration_scoring.h).
#include "tools/train/calibration_scoring.h"

#include <algorithm>

#include "tools/formats/csv.h"
#include "tools/metrics/classification.h"

namespace busi::tools {

namespace {

Json scores_without_bins(const CalibrationScores& s) {
  Json j = calibration_to_json(s);
  Json out = Json::object();
  for (const auto& [key, value] : j.items())
    if (key != "reliability") out[key] = value;
  return out;
}

}  // namespace

CalibratedTest calibrate_test(const Evaluation& val, const Evaluation& test,
                              const std::vector<std::string>& class_names, int bootstrap_rounds,
                              uint64_t bootstrap_seed) {
  CalibratedTest c;
  c.temperature = fit_temperature(val.logits, val.labels);
  const int rounds = bootstrap_rounds;
  const uint64_t seed = bootstrap_seed;
  c.val_raw = score_logits(val.logits, val.labels, 1.0, kCalibrationBins, 0, seed);
  c.val_calibrated = score_logits(val.logits, val.labels, c.temperature, kCalibrationBins, 0, seed);
  c.test_raw = score_logits(test.logits, test.labels, 1.0, kCalibrationBins, rounds, seed);
  c.test_calibrated =
      score_logits(test.logits, test.labels, c.temperature, kCalibrationBins, rounds, seed);

  const auto found = std::find(class_names.begin(), class_names.end(), kMalignantClass);
  if (found == class_names.end()) {
    c.malignant_note = "no class named 'malignant' in this data";
    return c;
  }
  const auto m = static_cast<int64_t>(found - class_names.begin());
  const bool val_has_one = std::find(val.labels.begin(), val.labels.end(), m) != val.labels.end();
  if (!val_has_one) {
    c.malignant_note = "the validation subset has no malignant image to choose a threshold on";
    return c;
  }
  c.malignant = operating_point(m, kMalignantClass, val.labels,
                                softmax_with_temperature(val.logits, c.temperature), test.labels,
                                softmax_with_temperature(test.logits, c.temperature),
                                kMalignantSensitivity, rounds, seed);
  return c;
}

Json calibration_json(const CalibratedTest& c) {
  Json j = Json::object();
  j["method"] = "temperature scaling: probabilities softmax(logits / T), T minimising the NLL";
  j["temperature"] = c.temperature;
  j["fitted_on"] = "validation";
  j["bins"] = static_cast<int64_t>(kCalibrationBins);
  Json& val = j["validation"] = Json::object();
  val["raw"] = scores_without_bins(c.val_raw);
  val["calibrated"] = scores_without_bins(c.val_calibrated);
  Json& test = j["test"] = Json::object();
  test["raw"] = calibration_to_json(c.test_raw);
  test["calibrated"] = calibration_to_json(c.test_calibrated);
  return j;
}

void write_predictions_csv(const std::string& path, const data::DatasetIndex& index,
                           const std::vector<std::string>& class_names, const Evaluation& test,
                           double temperature) {
  std::vector<std::string> header = {"path", "label", "pred"};
  for (const char* prefix : {"prob_", "calibrated_prob_", "logit_"})
    for (const std::string& name : class_names) header.push_back(prefix + name);
  CsvWriter predictions(path, header);
  const std::vector<int64_t> preds = argmax_predictions(test.probs);
  const std::vector<std::vector<double>> calibrated =
      softmax_with_temperature(test.logits, temperature);
  for (size_t i = 0; i < test.labels.size(); ++i) {
    std::vector<CsvField> fields = {index.samples.at(test.sample_ids[i]).relative_path,
                                    class_names.at(test.labels[i]), class_names.at(preds[i])};
    for (float p : test.probs[i]) fields.emplace_back(p);
    for (double p : calibrated[i]) fields.emplace_back(p);
    for (float z : test.logits[i]) fields.emplace_back(z);
    predictions.write_row(fields);
  }
  predictions.commit();
}

}  // namespace busi::tools
