// The folds of one model in a cross-validated comparison, read back as one run: the out-of-fold
// test predictions pooled (every placed image tested exactly once per repeat), each fold's own
// scores beside them, and each row's near-duplicate group for the group bootstrap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/metrics/classification.h"
#include "tools/report/run_reader.h"

namespace busi::tools {

// One fold of one repeat, as its run folder records it.
struct FoldResult {
  int64_t repeat = 1, fold = 1;  // from 1
  std::string dir;
  int64_t train_images = 0, val_images = 0, test_images = 0;  // from its split.csv
  ClassificationMetrics metrics;                    // on the fold's own test images (no intervals)
  double temperature = 0, malignant_threshold = 0;  // NaN when the run has none
  double training_seconds = 0;
};

struct PooledRun {
  // The first repeat's folds pooled: paths, labels, probabilities, logits and calibrated
  // probabilities of every fold's test rows in fold order, `groups` from the split.csv group
  // columns, the metrics of the pooled rows; config, history and split.csv are fold 1's (shown as
  // such), metrics.json's training time the sum over every fold of every repeat. Calibration pooled from each
  // fold's calibrated probabilities and malignant thresholds.
  RunFolder run;
  // Repeat 2 on, each repeat's folds pooled the same way (without bootstrap intervals): the
  // same images as `run`, in their own order. Empty with one repeat.
  std::vector<RunFolder> later_repeats;
  std::vector<FoldResult> folds;     // every fold of every repeat: repeat 1's first, in fold order
  std::vector<int64_t> fold_of_row;  // the fold (from 1) of each pooled row
};

// dirs_by_repeat[r][k]: the run folder of fold k + 1 in repeat r + 1 (all repeats the same number
// of folds). Throws busi::Error naming the folder or file that is missing or inconsistent (a fold
// whose classes differ, an image tested twice in one repeat).
PooledRun load_pooled_run(const std::vector<std::vector<std::string>>& dirs_by_repeat,
                          int bootstrap_rounds = 1000, uint64_t bootstrap_seed = 0);

// For every prediction row of `run`, its near-duplicate group from split.csv's group column (by
// path); empty when the run has no split.csv or the file has no group column.
std::vector<int64_t> groups_of_rows(const RunFolder& run);

}  // namespace busi::tools
