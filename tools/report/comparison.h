// The comparison of two run folders: the side-by-side metric table (each model's values with 95 %
// bootstrap intervals, and the paired difference B - A with its own), McNemar's test on the
// test images both runs predicted, and the headline sentence.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/metrics/bootstrap.h"
#include "tools/metrics/mcnemar.h"
#include "tools/report/cross_validation.h"
#include "tools/report/environment.h"
#include "tools/report/run_reader.h"

namespace busi::tools {

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

struct ReportOptions {
  int bootstrap_rounds = 1000;
  uint64_t bootstrap_seed = 0;
};

// Everything the three output files show.
struct Comparison {
  RunFolder a, b;
  std::vector<MetricRow> rows;  // with repeats: the means over them (compare_runs)
  int64_t repeats_in_table = 1;
  PairedComparison paired;
  ReportEnvironment environment;
  ReportOptions options;
  std::vector<std::string> warnings;  // both runs' warnings and the pairing's, for the reader
  // A cross-validated comparison: a and b are then the pooled out-of-fold runs (pooled_run.h),
  // and this holds the folds and their tests.
  std::optional<CrossValidation> cv;
};

// Loads both folders and computes the table and the paired test.
Comparison build_comparison(const std::string& dir_a, const std::string& dir_b,
                            const ReportOptions& options = {});
// The same from folders already loaded. later_a and later_b: the other repeats of a
// cross-validation (repeat 2 on, pooled like a and b); the metric table then averages each metric
// over the repeats, on the same images. McNemar's test and everything else read a and b.
Comparison compare_runs(RunFolder a, RunFolder b, const ReportOptions& options = {},
                        const std::vector<RunFolder>& later_a = {},
                        const std::vector<RunFolder>& later_b = {});

// The cross-validated comparison of a plan's first two models (A, B) and, with --ablation, of
// VGG16 from random weights (C): the pooled out-of-fold runs compared as above, and the folds'
// corrected t-tests.
Comparison build_cv_comparison(const CvPlan& plan, const ReportOptions& options = {});

// The row of the metric table with this key ("macro_f1"); throws busi::Error when absent.
const MetricRow& row_named(const Comparison& c, const std::string& key);

// One sentence: which model has the higher test macro-F1, by how much, and whether the interval
// of the difference excludes 0 ("" when there is no difference to state).
std::string headline(const Comparison& c);

}  // namespace busi::tools
