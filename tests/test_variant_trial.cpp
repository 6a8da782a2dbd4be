// Tests of a recipe variant against the default on the same folds (tools/report/variant_trial.h):
// synthetic fold run folders written here by the run-folder contract, the paired differences
// checked by hand, the rule, and folds that do not pair refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "kernels/common/error.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/report/variant_trial.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kClasses = {"benign", "malignant", "normal"};
constexpr int kFolds = 3, kPerFold = 12;

fs::path fresh_folder(const std::string& name) {
  const fs::path dir = fs::path(BUSI_BINARY_DIR) / "test_variant_trial_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string image_path(int i) {
  const std::string& c = kClasses[static_cast<size_t>(i % 3)];
  return c + "/" + c + " (" + std::to_string(i) + ").png";
}

// Fold k (from 1) of a run tests images (k - 1) * 12 ... k * 12 - 1 and trains on the rest of
// 36; the model is wrong (predicts the next class) on image i when wrong(i). `shift` moves the
// test images by one, so the folds no longer pair with an unshifted run.
void write_fold(const fs::path& dir, int fold, bool (*wrong)(int), int shift = 0) {
  fs::create_directories(dir);
  Json config = Json::object();
  config["model"] = "simple_cnn";
  write_text_file((dir / "config.json").string(), config.dump());
  std::vector<std::vector<std::string>> split;
  std::vector<int> tested;
  for (int i = 0; i < kFolds * kPerFold; ++i) {
    const int j = (i + shift) % (kFolds * kPerFold);
    const bool test = i / kPerFold == fold - 1;
    if (test) tested.push_back(j);
    split.push_back({image_path(j), kClasses[static_cast<size_t>(j % 3)], test ? "test" : "train",
                     std::to_string(j)});
  }
  write_csv((dir / "split.csv").string(), {"path", "class", "subset", "group"}, split);
  CsvWriter history((dir / "history.csv").string(),
                    {"epoch", "phase", "train_loss", "train_acc", "val_loss", "val_acc",
                     "val_macro_f1", "lr", "seconds", "img_per_s"});
  history.write_row({1, "train", 1.0, 0.5, 1.0, 0.5, 0.5, 1e-3, 2.0, 100.0});
  history.commit();
  std::vector<std::string> header = {"path", "label", "pred"};
  for (const auto& c : kClasses) header.push_back("prob_" + c);
  CsvWriter predictions((dir / "predictions.csv").string(), header);
  for (const int i : tested) {
    const int64_t label = i % 3, pred = wrong(i) ? (label + 1) % 3 : label;
    std::vector<float> p(3, 0.15f);
    p[static_cast<size_t>(pred)] = 0.7f;
    predictions.write_row({image_path(i), label, pred, p[0], p[1], p[2]});
  }
  predictions.commit();
  write_text_file((dir / "metrics.json").string(), "{\"model\": \"simple_cnn\"}");
}

void write_cv(const fs::path& root, bool (*wrong)(int), int shift = 0) {
  for (int k = 1; k <= kFolds; ++k)
    write_fold(root / "repeat1" / ("fold" + std::to_string(k)) / "simple_cnn", k, wrong, shift);
}

// The default is wrong on every fourth image, the variant on every twelfth: 3 of 12 against 1 of
// 12 in each fold, so the accuracy gains 2/12 in every fold.
bool base_wrong(int i) { return i % 4 == 0; }
bool variant_wrong(int i) { return i % 12 == 5; }
// Better in fold 1 only, worse in fold 3: a mean gain that does not beat its standard error.
bool mixed_wrong(int i) {
  if (i < 12) return i % 12 == 5;
  if (i < 24) return i % 4 == 0;
  return i % 4 == 0 || i % 12 == 5;
}

}  // namespace

TEST_CASE("variant trial: pooled figures and paired differences over the same folds") {
  const fs::path base = fresh_folder("base"), variant = fresh_folder("variant");
  write_cv(base, base_wrong);
  write_cv(variant, variant_wrong);
  const VariantTrial t =
      run_variant_trial(base.string(), variant.string(), "simple_cnn", "simple_cnn", 200);
  CHECK(t.base.run.paths.size() == 36);
  CHECK(t.base.run.metrics.accuracy == doctest::Approx(27.0 / 36));
  CHECK(t.variant.run.metrics.accuracy == doctest::Approx(33.0 / 36));
  REQUIRE(t.tests.size() == 5);  // accuracy, balanced, macro-F1, macro AUC, malignant AUC
  CHECK(t.tests[0].metric == "accuracy");
  CHECK(t.tests[0].test.mean_difference == doctest::Approx(2.0 / 12));
  CHECK(t.tests[0].test.sd == doctest::Approx(0.0));
  CHECK(t.tests.back().metric == "malignant_auc");
  // The same gain in every fold: a difference with no spread beats its standard error (0).
  const FoldTest& f1 = t.tests[2];
  CHECK(f1.metric == "macro_f1");
  CHECK(f1.test.mean_difference > 0);
  CHECK(beats_standard_error(f1.test));
  const std::string text = variant_trial_text(t);
  CHECK(text.find("adopt the variant") != std::string::npos);
  const std::string row = variant_trial_markdown_row(t, "fewer errors");
  CHECK(row.rfind("| fewer errors | 0.917 |", 0) == 0);
  CHECK(std::count(row.begin(), row.end(), '|') == 11);  // 10 columns
  CHECK(row.find("| yes |") != std::string::npos);
  // Each side's pooled intervals resample the split's groups: finite, around the value.
  CHECK(t.variant.run.metrics.accuracy_ci.low <= t.variant.run.metrics.accuracy);
  CHECK(t.variant.run.metrics.accuracy_ci.high >= t.variant.run.metrics.accuracy);
}

TEST_CASE("variant trial: a gain that does not beat its standard error keeps the default") {
  const fs::path base = fresh_folder("base2"), mixed = fresh_folder("mixed");
  write_cv(base, base_wrong);
  write_cv(mixed, mixed_wrong);
  const VariantTrial t =
      run_variant_trial(base.string(), mixed.string(), "simple_cnn", "simple_cnn", 0);
  const CorrectedTTest& acc = t.tests[0].test;
  // Fold differences +2/12, 0, -1/12 by construction; the verdict follows the rule.
  CHECK(acc.mean_difference == doctest::Approx((2.0 / 12 + 0 - 1.0 / 12) / 3));
  CHECK_FALSE(beats_standard_error(acc));
  CHECK(variant_trial_text(t).find("keep the default") != std::string::npos);
  CHECK(variant_trial_markdown_row(t, "mixed").find("| no |") != std::string::npos);
}

TEST_CASE("variant trial: folds that test other images, or no folds, are refused by name") {
  const fs::path base = fresh_folder("base3"), shifted = fresh_folder("shifted"),
                 empty = fresh_folder("empty");
  write_cv(base, base_wrong);
  write_cv(shifted, variant_wrong, /*shift=*/1);
  CHECK_THROWS_WITH_AS(
      run_variant_trial(base.string(), shifted.string(), "simple_cnn", "simple_cnn", 0),
      doctest::Contains("not the same folds"), Error);
  CHECK_THROWS_WITH_AS(cv_fold_dirs(empty.string(), "simple_cnn"),
                       doctest::Contains("neither a compare folder"), Error);
  CHECK_THROWS_WITH_AS(cv_fold_dirs(base.string(), "vgg16"),
                       doctest::Contains("fewer than two folds of 'vgg16'"), Error);
}
