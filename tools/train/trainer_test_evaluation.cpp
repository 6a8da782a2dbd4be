// The trainer's last step (see trainer.h): the best checkpoint on the test subset, calibrated on
// validation (the temperature and the malignant threshold stored back into the checkpoint),
// optionally with the test-time flip, and the run's predictions.csv and metrics.json.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "kernels/common/error.h"
#include "tools/formats/text_file.h"
#include "tools/train/calibration_scoring.h"
#include "tools/train/trainer.h"

namespace busi::tools {

ClassificationMetrics Trainer::evaluate_test(const Forward& forward, BatchSource& val,
                                             BatchSource& test, const data::DatasetIndex& index,
                                             Json extra, const MirroredSources* mirrored) {
  std::optional<RunCheckpoint> best;
  if (std::filesystem::exists(best_path())) {
    best = load_checkpoint(best_path(), model_, options_.model_name);
    std::printf("test: the best checkpoint (epoch %lld, val macro-F1 %.4f)\n",
                static_cast<long long>(state_.best_epoch), state_.best_val_macro_f1);
  }
  const int64_t num_classes = static_cast<int64_t>(options_.class_names.size());
  Evaluation val_eval = evaluate(model_, forward, val, options_.device, num_classes);
  Evaluation eval = evaluate(model_, forward, test, options_.device, num_classes);
  if (mirrored) {
    BUSI_CHECK(mirrored->val && mirrored->test, "evaluate_test: a mirrored source is missing");
    std::cout << "test-time flip: each validation and test image averaged with its mirror\n";
    val_eval = average_with_mirror(
        val_eval, evaluate(model_, forward, *mirrored->val, options_.device, num_classes),
        num_classes);
    eval = average_with_mirror(
        eval, evaluate(model_, forward, *mirrored->test, options_.device, num_classes),
        num_classes);
  }
  const ClassificationMetrics metrics =
      compute_metrics(eval.labels, eval.probs, options_.class_names);
  const CalibratedTest calibrated = calibrate_test(val_eval, eval, options_.class_names);
  std::printf(
      "calibration: temperature %.3f fitted on %lld validation images; test NLL %.3f -> %.3f, "
      "Brier %.3f -> %.3f, ECE %.3f -> %.3f\n",
      calibrated.temperature, static_cast<long long>(val_eval.labels.size()),
      calibrated.test_raw.nll, calibrated.test_calibrated.nll, calibrated.test_raw.brier,
      calibrated.test_calibrated.brier, calibrated.test_raw.ece, calibrated.test_calibrated.ece);
  if (calibrated.malignant)
    std::printf(
        "malignant vs rest: threshold %.3f (90%% sensitivity on validation) gives test "
        "sensitivity %.2f, specificity %.2f (at the argmax: %.2f, %.2f)\n",
        calibrated.malignant->threshold, calibrated.malignant->at_threshold.sensitivity,
        calibrated.malignant->at_threshold.specificity,
        calibrated.malignant->at_decision.sensitivity,
        calibrated.malignant->at_decision.specificity);
  // The temperature and the threshold go into the best checkpoint, where predict finds them.
  if (best) {
    best->info.settings[kTemperatureKey] = Json(calibrated.temperature).dump(0);
    if (calibrated.malignant)
      best->info.settings[kMalignantThresholdKey] = Json(calibrated.malignant->threshold).dump(0);
    best->info.settings[kTestTimeFlipKey] = mirrored ? "true" : "false";
    rewrite_checkpoint(best_path(), model_, *best);
  }
  write_predictions_csv(options_.run_dir + "/predictions.csv", index, options_.class_names, eval,
                        calibrated.temperature);

  Json doc = Json::object();
  doc["model"] = options_.model_name;
  doc["test"] = metrics_to_json_value(metrics);
  doc["calibration"] = calibration_json(calibrated);
  if (calibrated.malignant)
    doc["malignant"] = operating_point_to_json(*calibrated.malignant);
  else
    doc["malignant"] = calibrated.malignant_note;
  doc["parameters"] = model_.num_parameters();
  doc["trainable_parameters"] = model_.num_parameters(true);
  doc["training_seconds"] = training_seconds();
  doc["mean_img_per_s"] = mean_images_per_second();
  doc["overall_img_per_s"] = overall_images_per_second();
  doc["images_trained"] = state_.images_trained;
  doc["test_images"] = metrics.n;
  doc["device"] = options_.device.str();
  doc["best_epoch"] = state_.best_epoch;
  doc["best_val_macro_f1"] = state_.best_val_macro_f1;
  doc["epochs_run"] = state_.epoch;
  doc["test_time_flip"] = mirrored != nullptr;
  for (const auto& [key, value] : extra.items()) doc[key] = value;
  write_text_file(options_.run_dir + "/metrics.json", doc.dump(2) + "\n");
  return metrics;
}

}  // namespace busi::tools
