// A recipe variant against the default on the same cross-validated folds: both runs' pooled
// out-of-fold figures, and the variant's paired difference over the folds with its corrected
// standard error (Nadeau & Bengio's corrected resampled t-test, metrics/resampled_t_test.h). The
// rule the project chooses defaults by: a variant is adopted only when its mean paired macro-F1
// difference is larger than that standard error (docs/results.md lists every variant tried).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/report/cross_validation.h"
#include "tools/report/pooled_run.h"

namespace busi::tools {

// The run folders of `model` in `dir`, by repeat then fold: from its compare.json when it is a
// compare folder, else every DIR/repeat<r>/fold<k>/<model> there is (r and k from 1, no gaps).
// Throws busi::Error naming `dir` when it holds no such folders.
std::vector<std::vector<std::string>> cv_fold_dirs(const std::string& dir,
                                                   const std::string& model);

struct VariantTrial {
  std::string base_dir, variant_dir, model, variant_model;
  PooledRun base, variant;
  // variant - base for each fold metric: accuracy, balanced accuracy, macro-F1, macro AUC,
  // malignant-vs-rest AUC.
  std::vector<FoldTest> tests;
  double base_malignant_auc = 0, variant_malignant_auc = 0;  // pooled, NaN without the class
};

// Throws busi::Error when the two runs are not on the same folds (a fold testing other images).
VariantTrial run_variant_trial(const std::string& base_dir, const std::string& variant_dir,
                               const std::string& model, const std::string& variant_model,
                               int bootstrap_rounds);

// The decision rule: the mean paired difference beats its corrected standard error.
bool beats_standard_error(const CorrectedTTest& t);

// The trial as a table for the terminal (pooled figures, paired differences, the verdict).
std::string variant_trial_text(const VariantTrial& trial);
// One row for docs/results.md's table of variants:
// | name | accuracy | balanced acc. | macro-F1 | malignant AUC | malignant sens. / spec. at the
// validation threshold | macro-F1 vs default (paired, +- corrected SE) | p | adopted |
std::string variant_trial_markdown_row(const VariantTrial& trial, const std::string& name);

}  // namespace busi::tools
