// The report's calibration and malignant sections, from run folders written here: what it
// recomputes from predictions.csv's logits and metrics.json's temperature and threshold, a
// warning when metrics.json disagrees, and older folders without logits still rendered.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "engine/random.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/classification.h"
#include "tools/metrics/operating_point.h"
#include "tools/report/format.h"
#include "tools/report/report.h"
#include "tools/report/run_reader.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kClasses = {"benign", "malignant", "normal"};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A run folder of 60 test images. With logits, predictions.csv holds calibrated_prob_<class> =
// softmax(z / temperature) and metrics.json the calibrated test ECE at that temperature (shifted
// by `ece_offset`; 0: consistent), the threshold 0.3, and `recorded_temperature` as its
// temperature (= temperature: consistent).
struct RunSpec {
  std::string model = "simple_cnn";
  uint64_t seed = 1;
  bool with_logits = true;
  double temperature = 1.7, recorded_temperature = 1.7, ece_offset = 0.0;
};

void write_run(const fs::path& dir, const RunSpec& spec) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  Json config = Json::object();
  config["model"] = spec.model;
  write_text_file((dir / "config.json").string(), config.dump());
  CsvWriter history((dir / "history.csv").string(),
                    {"epoch", "phase", "train_loss", "train_acc", "val_loss", "val_acc",
                     "val_macro_f1", "lr", "seconds", "img_per_s"});
  history.write_row({1, "train", 1.0, 0.5, 1.0, 0.5, 0.5, 1e-3, 1.0, 10.0});
  history.commit();

  Generator gen(spec.seed);
  std::vector<std::string> header = {"path", "label", "pred"};
  for (const std::string prefix : {"prob_", "calibrated_prob_", "logit_"})
    if (spec.with_logits || prefix == "prob_")
      for (const auto& c : kClasses) header.push_back(prefix + c);
  CsvWriter predictions((dir / "predictions.csv").string(), header);
  std::vector<std::vector<float>> logits;
  std::vector<int64_t> labels;
  for (int i = 0; i < 60; ++i) {
    const int64_t label = i % 3;
    std::vector<float> z(3);
    for (float& v : z) v = static_cast<float>(2.0 * gen.normal());
    z[static_cast<size_t>(label)] += 2.5f;  // mostly right, overconfident
    const std::vector<double> p = softmax_with_temperature({z}, 1.0)[0];
    const std::vector<double> q = softmax_with_temperature({z}, spec.temperature)[0];
    std::vector<CsvField> fields = {
        "x/" + std::to_string(i) + ".png", kClasses[static_cast<size_t>(label)],
        kClasses[static_cast<size_t>(
            argmax_predictions({{float(p[0]), float(p[1]), float(p[2])}})[0])]};
    for (double v : p) fields.emplace_back(static_cast<float>(v));
    if (spec.with_logits) {
      for (double v : q) fields.emplace_back(v);
      for (float v : z) fields.emplace_back(v);
    }
    predictions.write_row(fields);
    logits.push_back(z);
    labels.push_back(label);
  }
  predictions.commit();

  Json summary = Json::object();
  summary["model"] = spec.model;
  summary["test_images"] = 60;
  if (spec.with_logits) {
    Json& cal = summary["calibration"] = Json::object();
    cal["temperature"] = spec.recorded_temperature;
    cal["validation"]["raw"]["n"] = 45;
    cal["test"]["calibrated"]["ece"] =
        score_logits(logits, labels, spec.temperature, kCalibrationBins, 0).ece + spec.ece_offset;
    Json& m = summary["malignant"] = Json::object();
    m["threshold"] = 0.3;
    m["target_sensitivity"] = 0.9;
    m["validation"]["sensitivity"] = 0.92;
    m["validation"]["specificity"] = 0.61;
  }
  write_text_file((dir / "metrics.json").string(), summary.dump());
}

// The part of the page from one section's heading to the next section.
std::string section_of(const std::string& html, const std::string& heading) {
  const size_t begin = html.find("<h2>" + heading);
  if (begin == std::string::npos) return "";
  const size_t end = html.find("<section", begin);
  return html.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

fs::path root() { return fs::path(BUSI_BINARY_DIR) / "test_report_calibration_tmp"; }

}  // namespace

TEST_CASE("report: calibration recomputed from the logits, reliability diagrams, malignant table") {
  write_run(root() / "a", {});
  write_run(root() / "b", {"vgg16", 2, true, 2.4, 2.4, 0.0});
  const RunFolder a = load_run_folder((root() / "a").string(), 200, 0);
  REQUIRE(a.calibration.has_value());
  CHECK(a.warnings.empty());
  REQUIRE(a.logits.size() == 60);
  CHECK(a.calibrated_probs.size() == 60);
  CHECK(a.calibration->temperature == doctest::Approx(1.7));
  CHECK(a.calibration->validation_images == 45);
  const CalibrationScores expected = score_logits(a.logits, a.labels, 1.7, 15, 0);
  CHECK(a.calibration->calibrated.ece == doctest::Approx(expected.ece).epsilon(1e-12));
  CHECK(a.calibration->calibrated.brier == doctest::Approx(expected.brier));
  CHECK(a.calibration->raw.ece ==
        doctest::Approx(score_logits(a.logits, a.labels, 1.0, 15, 0).ece).epsilon(1e-12));
  CHECK(a.calibration->raw.nll == doctest::Approx(nll_from_logits(a.logits, a.labels, 1.0)));
  CHECK(a.calibration->raw.ece > a.calibration->calibrated.ece);  // T = 1.7 helps these logits
  CHECK(std::isfinite(a.calibration->calibrated.ece_ci.low));     // the bootstrap ran
  REQUIRE(a.calibration->malignant.has_value());
  // At >= 0.3 on the calibrated probabilities: every malignant image with p >= 0.3 counts.
  const auto probs = softmax_with_temperature(a.logits, 1.7);
  int64_t tp = 0, fn = 0, fp = 0, tn = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const bool flagged = probs[i][1] >= 0.3;
    if (a.labels[i] == 1)
      (flagged ? tp : fn)++;
    else
      (flagged ? fp : tn)++;
  }
  const OperatingPoint& p = *a.calibration->malignant;
  CHECK(p.at_threshold.tp == tp);
  CHECK(p.at_threshold.fn == fn);
  CHECK(p.at_threshold.fp == fp);
  CHECK(p.at_threshold.tn == tn);
  REQUIRE(tp + fn == 20);

  ReportOptions options;
  options.bootstrap_rounds = 100;
  const ReportFiles files = write_comparison_report(
      (root() / "a").string(), (root() / "b").string(), (root() / "report").string(), options);
  const std::string html = read_text_file(files.html);
  const RunFolder a100 = load_run_folder((root() / "a").string(), 100, 0);
  const std::string calibration = section_of(html, "Calibration");
  REQUIRE_FALSE(calibration.empty());
  CHECK(occurrences(calibration, "<svg") == 2);  // one reliability diagram per model
  CHECK(occurrences(calibration, "</svg>") == 2);
  CHECK(contains(calibration, "SimpleCNN: reliability on the test images"));
  CHECK(contains(calibration, "VGG16: reliability on the test images"));
  CHECK(contains(calibration, "stroke-dasharray"));  // the diagonal
  CHECK(contains(calibration,
                 "calibrated, T = 1.7 (ECE " + fmt_metric(a100.calibration->calibrated.ece) + ")"));
  CHECK(contains(calibration, "raw (ECE " + fmt_metric(a100.calibration->raw.ece) + ")"));
  CHECK(contains(calibration, "T = 1.7, fitted on the 45 validation images"));
  CHECK(contains(calibration, fmt_interval(a100.calibration->calibrated.ece_ci)));
  CHECK(contains(calibration, "On 60 test images, the calibrated ECE"));
  CHECK_FALSE(contains(calibration, "<script"));

  const std::string malignant = section_of(html, "Malignant against the rest");
  REQUIRE_FALSE(malignant.empty());
  CHECK(contains(malignant, "malignant probability &ge; 0.300"));
  CHECK(contains(malignant, "validation: sensitivity 0.920, specificity 0.610"));
  const OperatingPoint& p100 = *a100.calibration->malignant;
  CHECK(contains(malignant, fmt_metric(static_cast<double>(tp) / 20) + "<span class=\"ci\">" +
                                fmt_interval(p100.at_threshold.sensitivity_ci)));
  CHECK(contains(malignant, fmt_metric(static_cast<double>(tn) / 40) + "<span class=\"ci\">" +
                                fmt_interval(p100.at_threshold.specificity_ci)));
  CHECK(contains(malignant, std::to_string(fn) + " of 20"));
  CHECK(contains(malignant,
                 "SimpleCNN: of the 20 malignant test images, the threshold (the default "
                 "decision) misses " +
                     std::to_string(fn) + " and the argmax " +
                     std::to_string(p100.at_decision.fn)));
  // The threshold is the default decision, listed first; the argmax is labelled as such.
  CHECK(malignant.find("default: malignant probability") <
        malignant.find("argmax: the most probable class"));

  const std::string markdown = read_text_file(files.markdown);
  CHECK(contains(markdown, "## Calibration (test images)"));
  CHECK(contains(markdown, "| SimpleCNN | 1.7 |"));
  CHECK(contains(markdown, "## Malignant against the rest"));
  const Json results = read_json_file(files.json);
  CHECK(results.at("models")[0].at("calibration").at("temperature").as_number() ==
        doctest::Approx(1.7));
  CHECK(results.at("models")[1].at("calibration").at("test_calibrated").at("ece").as_number() ==
        doctest::Approx(load_run_folder((root() / "b").string(), 0).calibration->calibrated.ece));
  CHECK(results.at("models")[0]
            .at("calibration")
            .at("malignant")
            .at("at_threshold")
            .at("fn")
            .as_number() == static_cast<double>(fn));
}

TEST_CASE("report: a metrics.json that disagrees is named") {
  // The ECE recorded is off by 0.01.
  write_run(root() / "c", {"simple_cnn", 3, true, 1.5, 1.5, 0.01});
  const RunFolder c = load_run_folder((root() / "c").string(), 0);
  REQUIRE(c.warnings.size() == 1);
  CHECK(contains(c.warnings[0], "calibrated test ECE"));
  CHECK(contains(c.warnings[0], "metrics.json"));
  // The temperature recorded (2) is not the one predictions.csv's calibrated columns and the
  // recorded ECE were computed with (1.5): both disagreements are named.
  write_run(root() / "t", {"simple_cnn", 3, true, 1.5, 2.0, 0.0});
  const RunFolder t = load_run_folder((root() / "t").string(), 0);
  REQUIRE(t.calibration.has_value());
  CHECK(t.calibration->temperature == 2.0);  // the report uses metrics.json's, and says so
  REQUIRE(t.warnings.size() == 2);
  CHECK(contains(t.warnings[0], "temperature 2 does not reproduce"));
  CHECK(contains(t.warnings[0], "calibrated_prob"));
  CHECK(contains(t.warnings[1], "calibrated test ECE"));
  // And the warnings reach the page.
  const ReportFiles files = write_comparison_report(
      (root() / "t").string(), (root() / "c").string(), (root() / "report_bad").string(), {});
  const std::string html = read_text_file(files.html);
  CHECK(contains(html, "temperature 2 does not reproduce"));
}

TEST_CASE("report: a run without logits still renders, saying what is missing") {
  write_run(root() / "c", {"simple_cnn", 3, true, 1.5, 1.5, 0.0});
  write_run(root() / "old", {"vgg16", 4, false, 1.0, 1.0, 0.0});
  const RunFolder old = load_run_folder((root() / "old").string(), 0);
  CHECK_FALSE(old.calibration.has_value());
  CHECK(old.logits.empty());
  CHECK(old.warnings.empty());
  CHECK(old.calibration_missing == "this run has no logits (trained before calibration was added)");
  const ReportFiles files = write_comparison_report(
      (root() / "c").string(), (root() / "old").string(), (root() / "report_old").string(), {});
  const std::string html = read_text_file(files.html);
  const std::string calibration = section_of(html, "Calibration");
  CHECK(contains(calibration,
                 "VGG16</h3><p class=\"note\">No calibration to show: this run has "
                 "no logits (trained before calibration was added)"));
  CHECK(occurrences(calibration, "<svg") == 1);  // SimpleCNN's diagram only
  CHECK(contains(calibration, "SimpleCNN: reliability on the test images"));
  CHECK(contains(section_of(html, "Malignant against the rest"),
                 "No operating point: this run has no logits"));
  CHECK(contains(html, "<h2>Test metrics</h2>"));  // the rest of the page is there
  const std::string markdown = read_text_file(files.markdown);
  CHECK(contains(markdown, "| VGG16 | \u2014 | this run has no logits"));
  const Json results = read_json_file(files.json);
  CHECK(contains(results.at("models")[1].at("calibration").at("missing").as_string(),
                 "trained before calibration"));
  // A metrics.json with logits in predictions.csv but no temperature is also an older run.
  write_run(root() / "no_t", {"vgg16", 5, true, 1.0, 1.0, 0.0});
  Json summary = read_json_file((root() / "no_t" / "metrics.json").string());
  summary["calibration"] = Json();  // null, as if never written
  write_text_file((root() / "no_t" / "metrics.json").string(), summary.dump());
  const RunFolder no_t = load_run_folder((root() / "no_t").string(), 0);
  CHECK_FALSE(no_t.calibration.has_value());
  CHECK(contains(no_t.calibration_missing, "no temperature"));
}
