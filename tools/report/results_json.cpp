// results.json (see results_json.h).
#include "tools/report/results_json.h"

#include "tools/report/calibration_section.h"
#include "tools/report/cv_section.h"
#include "tools/report/run_facts.h"

namespace busi::tools {

namespace {

Json run_json(const RunFolder& run, const std::vector<MetricRow>& rows, bool is_b) {
  Json j = Json::object();
  j["name"] = run.display_name;
  j["model"] = run.model;
  j["run_dir"] = run.dir;
  j["initialisation"] = describe_initialisation(run);
  j["test"] = metrics_to_json_value(run.metrics);
  Json& cis = j["confidence_intervals_95"] = Json::object();
  for (const MetricRow& row : rows) cis[row.key] = interval_json(is_b ? row.b_ci : row.a_ci);
  for (const char* key : {"parameters", "trainable_parameters", "training_seconds",
                          "mean_img_per_s", "overall_img_per_s"})
    j[key] = run.summary.contains(key) ? run.summary.at(key) : Json();
  j["epochs_run"] = static_cast<int64_t>(run.history.size());
  j["calibration"] = run_calibration_json(run);
  j["config"] = run.config;
  return j;
}

}  // namespace

Json results_to_json(const Comparison& c) {
  Json j = Json::object();
  j["title"] = "BUSI classifiers: " + c.a.display_name + " vs " + c.b.display_name;
  j["generated_at"] = c.environment.generated_at;
  j["models"] = Json::array();
  j["models"].push_back(run_json(c.a, c.rows, false));
  j["models"].push_back(run_json(c.b, c.rows, true));
  if (c.repeats_in_table > 1) {
    // "test" holds the first repeat's pooled metrics; the table's values are the repeats' means.
    for (const bool is_b : {false, true}) {
      Json& means = j["models"][is_b ? size_t{1} : size_t{0}]["test_repeat_means"] = Json::object();
      for (const MetricRow& row : c.rows) means[row.key] = is_b ? row.b : row.a;
    }
  }

  Json& cmp = j["comparison"] = Json::object();
  cmp["a"] = c.a.display_name;
  cmp["b"] = c.b.display_name;
  cmp["metric_table_repeats"] = c.repeats_in_table;
  cmp["paired_test_images"] = c.paired.paired;
  cmp["only_in_a"] = c.paired.only_in_a;
  cmp["only_in_b"] = c.paired.only_in_b;
  Json& diffs = cmp["difference_b_minus_a"] = Json::object();
  for (const MetricRow& row : c.rows) {
    Json& d = diffs[row.key] = Json::object();
    d["estimate"] = row.difference;
    d["ci95"] = interval_json(row.difference_ci);
  }
  Json& mc = cmp["mcnemar"] = Json::object();
  mc["both_right"] = c.paired.both_right;
  mc["a_right_b_wrong"] = c.paired.mcnemar.a_right_b_wrong;
  mc["a_wrong_b_right"] = c.paired.mcnemar.a_wrong_b_right;
  mc["both_wrong"] = c.paired.both_wrong;
  mc["statistic_chi2_corrected"] = c.paired.mcnemar.statistic;
  mc["p_value_exact"] = c.paired.mcnemar.p_value;
  mc["interpretation"] = c.paired.interpretation;

  if (c.cv) j["cross_validation"] = cv_to_json(c);
  Json& boot = j["bootstrap"] = Json::object();
  boot["method"] = "percentile";
  boot["rounds"] = c.options.bootstrap_rounds;
  boot["seed"] = c.options.bootstrap_seed;
  boot["resamples"] = c.a.groups.empty() ? "images" : "near-duplicate groups";
  Json& env = j["environment"] = Json::object();
  env["generated_at"] = c.environment.generated_at;
  env["compiler"] = c.environment.compiler;
  env["host"] = c.environment.host;
  j["warnings"] = c.warnings;
  return j;
}

}  // namespace busi::tools
