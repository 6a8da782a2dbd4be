// A trainer run folder read back for the report: config.json, metrics.json, history.csv,
// predictions.csv (the test metrics, and the calibration where there are logits, are recomputed
// from it, with bootstrap intervals) and split.csv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/metrics/classification.h"
#include "tools/report/run_calibration.h"
#include "tools/run_folder/history.h"

namespace busi::tools {

// A trainer run folder as read back. Metrics are recomputed from predictions.csv (the single
// source of truth: metrics.json is only cross-checked), config.json is kept as a JSON value.
struct RunFolder {
  std::string dir;
  std::string model;         // config.json "model" ("simple_cnn", "vgg16")
  std::string display_name;  // "SimpleCNN", "VGG16" (the folder name for unknown models)
  Json config;               // config.json
  Json summary;              // metrics.json
  std::vector<HistoryRow> history;
  std::optional<CsvTable> split;  // split.csv, when present

  // predictions.csv: one row per test image.
  std::vector<std::string> class_names;  // from the prob_<class> columns, in column order
  std::vector<std::string> paths;
  std::vector<int64_t> labels, preds;  // preds = argmax of probs (as compute_metrics does)
  // Each row's near-duplicate group (split.csv's group column, by path), so that bootstrap
  // intervals resample groups, not images; empty without that column (each image alone).
  std::vector<int64_t> groups;
  std::vector<std::vector<float>> probs;
  // The logit_<class> and calibrated_prob_<class> columns, in the order of the prob_ columns;
  // empty in runs trained before calibration was added.
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<double>> calibrated_probs;
  ClassificationMetrics metrics;
  // Recomputed from the logits and metrics.json's temperature; absent for runs trained before
  // calibration existed (calibration_missing says why).
  std::optional<RunCalibration> calibration;
  std::string calibration_missing;
  std::vector<std::string> warnings;  // inconsistencies found while reading, for the report
};

// Reads a run folder. Throws busi::Error naming the file that is missing or malformed, e.g.
// "runs/x/predictions.csv: missing (is this a trainer run folder?)".
RunFolder load_run_folder(const std::string& dir, int bootstrap_rounds = 1000,
                          uint64_t bootstrap_seed = 0);

// <dir>/<name>.
std::string file_in(const std::string& dir, const std::string& name);

}  // namespace busi::tools
