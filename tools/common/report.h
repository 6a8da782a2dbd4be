// The comparison report of two trainer run folders: reads each folder (config.json, metrics.json,
// history.csv, predictions.csv, split.csv), recomputes the test metrics with bootstrap intervals,
// pairs the predictions for McNemar's test, and writes report.html, report.md and results.json.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "tools/common/csv.h"
#include "tools/common/history.h"
#include "tools/common/json_writer.h"
#include "tools/common/metrics.h"

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
  std::vector<std::vector<float>> probs;
  ClassificationMetrics metrics;
  std::vector<std::string> warnings;  // inconsistencies found while reading, for the report
};

// Reads a run folder. Throws busi::Error naming the file that is missing or malformed, e.g.
// "runs/x/predictions.csv: missing (is this a trainer run folder?)".
RunFolder load_run_folder(const std::string& dir, int bootstrap_rounds = 1000,
                          uint64_t bootstrap_seed = 0);

// A metric of the side-by-side table: both models' values with 95 % intervals, and the paired
// difference B - A with its own interval (bootstrap over the images both runs predicted).
struct MetricRow {
  std::string key;       // "macro_f1", or "<class>.f1" for a per-class metric
  std::string label;     // "Macro-F1", "F1"
  int class_index = -1;  // -1 for an overall metric
  double a = 0, b = 0, difference = 0;
  Interval a_ci, b_ci, difference_ci;
};

// The paired view of the two runs' test predictions.
struct PairedComparison {
  int64_t paired = 0;  // test images found in both predictions.csv (by path)
  int64_t only_in_a = 0, only_in_b = 0;
  int64_t both_right = 0, both_wrong = 0;
  McNemarResult mcnemar;       // b = A right & B wrong, c = A wrong & B right
  std::string interpretation;  // one sentence
};

// Where and how the report was built.
struct ReportEnvironment {
  std::string generated_at;  // local date and time
  std::string compiler;      // of the report builder (the engine's build)
  std::string host;          // CPU model and core count, operating system
};
ReportEnvironment current_environment();

struct ReportOptions {
  int bootstrap_rounds = 1000;
  uint64_t bootstrap_seed = 0;
};

// Everything the three output files show.
struct Comparison {
  RunFolder a, b;
  std::vector<MetricRow> rows;
  PairedComparison paired;
  ReportEnvironment environment;
  ReportOptions options;
  std::vector<std::string> warnings;  // both runs' warnings and the pairing's, for the reader
};

// Loads both folders and computes the table and the paired test.
Comparison build_comparison(const std::string& dir_a, const std::string& dir_b,
                            const ReportOptions& options = {});
// The same from folders already loaded.
Comparison compare_runs(RunFolder a, RunFolder b, const ReportOptions& options = {});

std::string render_report_html(const Comparison& c);
std::string render_report_markdown(const Comparison& c);
Json results_to_json(const Comparison& c);

// "ImageNet weights: 5 of 13 conv layers" for a VGG run, "none (trained from scratch)" for a
// SimpleCNN; from config.json.
std::string describe_initialisation(const RunFolder& run);

struct ReportFiles {
  std::string html, markdown, json;
};
// build_comparison, then writes report.html, report.md and results.json into out_dir (created
// when missing). Throws busi::Error naming the folder or file that cannot be written.
ReportFiles write_comparison_report(const std::string& dir_a, const std::string& dir_b,
                                    const std::string& out_dir, const ReportOptions& options = {});

}  // namespace busi::tools
