// The repeats of a cross-validated comparison in the report: the metric table averages them on
// the same images (narrower intervals); McNemar's test stays on the first repeat.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/synthetic_run_folders.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/report/comparison.h"
#include "tools/report/report.h"

using namespace busi::tools;
using namespace busi::tools::synthetic;

namespace {

// Two folds of the 30 images, partitioned one way in repeat 1 and another in repeat 2.
bool first_half(int i) { return i < 15; }
bool second_half(int i) { return i >= 15; }
bool odd(int i) { return i % 2 == 1; }
bool even(int i) { return i % 2 == 0; }
bool even_from_20(int i) { return i >= 20 && i % 2 == 0; }
bool simple_wrong_repeat2(int i) { return i % 10 == 1; }

}  // namespace

TEST_CASE("report: the repeats of a cross-validation are averaged on the same images") {
  // SimpleCNN is wrong on 6 images in repeat 1 (accuracy 0.8) and on 3 others in repeat 2 (0.9);
  // VGG16 on the same 3 in both (0.9).
  const fs::path root = fresh_folder("cv_repeats");
  CvPlan plan;
  plan.out = root.string();
  plan.folds = 2;
  plan.repeats = 2;
  bool (*const folds[2][2])(int) = {{first_half, second_half}, {odd, even}};
  for (int r = 1; r <= 2; ++r)
    for (int k = 1; k <= 2; ++k)
      for (const std::string model : {"simple_cnn", "vgg16"}) {
        const fs::path dir = plan.fold_dir(r, k, model);
        fs::create_directories(dir);
        bool (*const wrong)(int) =
            model == "vgg16" ? vgg_wrong : (r == 1 ? simple_wrong : simple_wrong_repeat2);
        write_run_folder(dir, model, wrong, false, false, folds[r - 1][k - 1]);
      }
  ReportOptions options;
  options.bootstrap_rounds = 400;
  const Comparison both = build_cv_comparison(plan, options);
  CvPlan first_only = plan;
  first_only.repeats = 1;
  const Comparison first = build_cv_comparison(first_only, options);

  CHECK(both.repeats_in_table == 2);
  CHECK(first.repeats_in_table == 1);
  const MetricRow& acc = row_named(both, "accuracy");
  CHECK(acc.a == doctest::Approx((24.0 / 30 + 27.0 / 30) / 2));
  CHECK(acc.b == doctest::Approx(27.0 / 30));
  CHECK(acc.difference == doctest::Approx(27.0 / 30 - 0.85));
  CHECK(row_named(first, "accuracy").a == doctest::Approx(24.0 / 30));
  // Per image, SimpleCNN's mean correctness over the repeats is 0.5 on 9 images and 1 on 21: a
  // variance of 0.0525 against 0.16 with repeat 1 alone, so the interval is narrower.
  const auto width = [](const Interval& ci) { return ci.high - ci.low; };
  CHECK(width(acc.a_ci) < width(row_named(first, "accuracy").a_ci));
  CHECK(acc.a_ci.low <= acc.a);
  CHECK(acc.a_ci.high >= acc.a);
  // McNemar's test stays on the first repeat's predictions: b = 3, c = 6 as above.
  CHECK(both.paired.mcnemar.a_right_b_wrong == 3);
  CHECK(both.paired.mcnemar.a_wrong_b_right == 6);
  CHECK(both.cv->folds_a.size() == 4);  // the t-test's folds: both repeats

  const ReportFiles files = write_report_files(both, (root / "report").string());
  const std::string markdown = read_text_file(files.markdown);
  CHECK(
      contains(markdown, "## Test metrics (pooled out-of-fold predictions, means over 2 repeats)"));
  CHECK(contains(markdown, "the test metrics are the means over the 2 repeats"));
  const Json results = read_json_file(files.json);
  CHECK(results.at("comparison").at("metric_table_repeats").as_int() == 2);
  CHECK(results.at("models")[0].at("test_repeat_means").at("accuracy").as_number() ==
        doctest::Approx(0.85));
  CHECK(results.at("models")[0].at("test").at("accuracy").as_number() ==
        doctest::Approx(24.0 / 30));

  // A repeat that tests fewer images than the first cannot be averaged with it.
  write_run_folder(plan.fold_dir(2, 2, "simple_cnn"), "simple_cnn", simple_wrong_repeat2, false,
                   false, even_from_20);
  CHECK_THROWS_WITH(build_cv_comparison(plan, options),
                    doctest::Contains("a repeat tests 20 images, the first 30"));
}
