// What the report adds for a cross-validated comparison (compare's default; its plan is
// run_folder/compare_plan.h): each fold's scores, the corrected resampled t-tests over the folds
// (and repeats), the smallest difference the run could detect, and, with --ablation, VGG16 from
// random weights on the same folds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/formats/json_value.h"
#include "tools/metrics/resampled_t_test.h"
#include "tools/report/pooled_run.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

// One metric's verdict over the folds: B - A by the corrected resampled t-test.
struct FoldTest {
  std::string metric;        // "accuracy", "balanced_accuracy", "macro_f1", "macro_auc"
  std::string label;         // "Accuracy"
  std::vector<double> a, b;  // the folds' scores, repeat 1's folds first
  CorrectedTTest test;
};

// B - A for each metric, over the folds of `a` and `b` (the same folds, in the same order).
std::vector<FoldTest> fold_tests(const std::vector<FoldResult>& a,
                                 const std::vector<FoldResult>& b);

struct CrossValidation {
  std::string out;  // the compare folder
  int64_t folds = 0, repeats = 0;
  uint64_t seed = 0;
  std::vector<FoldResult> folds_a, folds_b;  // every fold of every repeat
  std::vector<FoldTest> tests;               // B - A
  double test_train_ratio = 0;               // n_test / n_train (train + validation), mean
  // --ablation: VGG16 trained from random weights on the same folds (C). Architecture: C - A
  // (both from scratch); ImageNet weights: B - C (one architecture, with and without them).
  std::optional<PooledRun> ablation;
  std::vector<FoldTest> architecture, pretraining;
  std::string headline;  // the verdict in one sentence
  // compare --external: each folder's OUT/external/<name>/external.json (compare/
  // external_scoring.h): the fold ensembles' scores on images unseen and seen in training.
  std::vector<Json> external;
  // OUT/gradcam/panel.json (compare/gradcam_panel.h): images beside both models' Grad-CAM
  // maps; null when the comparison has none.
  Json gradcam_panel;
};

// "Over 5 folds, VGG16's macro-F1 is 0.031 below SimpleCNN's (95 % CI ...); the corrected
// resampled t-test gives p = 0.21, not significant at the 5 % level. With these folds, a
// difference of 0.07 or more would have been detected with 80 % power."
std::string cv_headline(const std::string& name_a, const std::string& name_b,
                        const CrossValidation& cv);

}  // namespace busi::tools
