// Reading a run folder back (see run_reader.h).
#include "tools/report/run_reader.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "kernels/common/error.h"
#include "tools/report/format.h"
#include "tools/report/pooled_run.h"

namespace busi::tools {

namespace fs = std::filesystem;

std::string file_in(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

namespace {

std::string require_file(const std::string& dir, const std::string& name) {
  const std::string path = file_in(dir, name);
  std::error_code ec;
  BUSI_CHECK(fs::is_regular_file(path, ec), path, ": missing (is this a trainer run folder?)");
  return path;
}

std::string display_name_of(const std::string& model, const std::string& dir) {
  if (model == "simple_cnn") return "SimpleCNN";
  if (model == "vgg16") return "VGG16";
  if (!model.empty()) return model;
  return fs::path(dir).lexically_normal().filename().string();
}

// A class given as its index ("1") or its name ("malignant"); -1 when it is neither.
int64_t class_index_of(const std::string& text, const std::vector<std::string>& class_names) {
  for (size_t k = 0; k < class_names.size(); ++k)
    if (text == class_names[k]) return static_cast<int64_t>(k);
  int64_t index = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  const bool whole = ec == std::errc() && end == text.data() + text.size();
  return whole && index >= 0 && index < static_cast<int64_t>(class_names.size()) ? index : -1;
}

// The columns <prefix><class> in the order of class_names: all of them, or none (older runs).
std::vector<size_t> class_columns(const CsvTable& table, const std::string& prefix,
                                  const std::vector<std::string>& class_names,
                                  const std::string& path) {
  std::vector<size_t> columns;
  for (const std::string& name : class_names) {
    const int column = table.column_index(prefix + name);
    if (column >= 0) columns.push_back(static_cast<size_t>(column));
  }
  BUSI_CHECK(columns.empty() || columns.size() == class_names.size(), path, ": ", prefix,
             "<class> columns for ", columns.size(), " of the ", class_names.size(), " classes");
  return columns;
}

// predictions.csv: path,label,pred,prob_<class>... and, since calibration was added,
// calibrated_prob_<class>... and logit_<class>... (the class names come from the prob_ columns;
// label and pred may be class indices or class names).
void read_predictions(const std::string& path, RunFolder& run) {
  const CsvTable table = read_csv(path);
  const size_t path_column = table.require_column("path");
  const size_t label_column = table.require_column("label");
  const int pred_column = table.column_index("pred");
  std::vector<size_t> prob_columns;
  for (size_t i = 0; i < table.header.size(); ++i)
    if (table.header[i].rfind("prob_", 0) == 0) {
      prob_columns.push_back(i);
      run.class_names.push_back(table.header[i].substr(5));
    }
  const std::vector<size_t> logit_columns = class_columns(table, "logit_", run.class_names, path);
  const std::vector<size_t> calibrated_columns =
      class_columns(table, "calibrated_prob_", run.class_names, path);
  BUSI_CHECK(prob_columns.size() >= 2, path,
             ": expected prob_<class> columns for 2 or more classes");
  BUSI_CHECK(!table.rows.empty(), path, ": no test images (the file has only its header)");
  const size_t k = prob_columns.size();
  int64_t pred_disagreements = 0;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    run.paths.push_back(table.rows[r][path_column]);
    const std::string& label_text = table.rows[r][label_column];
    const int64_t label = class_index_of(label_text, run.class_names);
    BUSI_CHECK(label >= 0, path, ": row ", r + 1, ": label '", label_text,
               "' is neither a class index in [0, ", k, ") nor a class name");
    run.labels.push_back(label);
    std::vector<float> p;
    for (const size_t c : prob_columns) p.push_back(static_cast<float>(table.number(r, c)));
    run.probs.push_back(std::move(p));
    if (!logit_columns.empty()) {
      std::vector<float> z;
      for (const size_t c : logit_columns) z.push_back(static_cast<float>(table.number(r, c)));
      run.logits.push_back(std::move(z));
    }
    if (!calibrated_columns.empty()) {
      std::vector<double> q;
      for (const size_t c : calibrated_columns) q.push_back(table.number(r, c));
      run.calibrated_probs.push_back(std::move(q));
    }
    if (pred_column >= 0)
      pred_disagreements +=
          class_index_of(table.rows[r][static_cast<size_t>(pred_column)], run.class_names) !=
          argmax_predictions({run.probs.back()})[0];
  }
  run.preds = argmax_predictions(run.probs);
  if (pred_disagreements > 0)
    run.warnings.push_back(
        path + ": the pred column differs from the argmax of the probabilities on " +
        std::to_string(pred_disagreements) + " rows; the report uses the argmax");
}

// Cross-checks metrics.json against the metrics recomputed from predictions.csv.
void check_summary(RunFolder& run, const std::string& path) {
  const Json* test = run.summary.find("test");
  const Json* accuracy = test ? test->find("accuracy") : nullptr;
  if (accuracy && accuracy->is_number() &&
      std::abs(accuracy->as_number() - run.metrics.accuracy) > 1e-6)
    run.warnings.push_back(path + ": test accuracy " + fmt_metric(accuracy->as_number()) +
                           " differs from " + fmt_metric(run.metrics.accuracy) +
                           " recomputed from predictions.csv");
  const Json* images = run.summary.find("test_images");
  if (images && images->is_number() && images->as_number() != static_cast<double>(run.paths.size()))
    run.warnings.push_back(path + ": test_images = " + images->to_display_string() + " but " +
                           "predictions.csv has " + std::to_string(run.paths.size()) + " rows");
}

}  // namespace

RunFolder load_run_folder(const std::string& dir, int bootstrap_rounds, uint64_t bootstrap_seed) {
  std::error_code ec;
  BUSI_CHECK(fs::exists(dir, ec), dir, ": no such folder");
  BUSI_CHECK(fs::is_directory(dir, ec), dir, ": not a folder (expected a trainer run folder)");
  RunFolder run;
  run.dir = dir;
  const std::string predictions = require_file(dir, "predictions.csv");
  const std::string config = require_file(dir, "config.json");
  const std::string summary = require_file(dir, "metrics.json");
  const std::string history = require_file(dir, "history.csv");

  run.config = read_json_file(config);
  BUSI_CHECK(run.config.is_object(), config, ": expected a JSON object");
  run.summary = read_json_file(summary);
  BUSI_CHECK(run.summary.is_object(), summary, ": expected a JSON object");
  const Json* model = run.config.find("model");
  run.model = model && model->is_string() ? model->as_string() : "";
  run.display_name = display_name_of(run.model, dir);
  run.history = read_history(history);
  read_predictions(predictions, run);
  if (fs::is_regular_file(file_in(dir, "split.csv"), ec))
    run.split = read_csv(file_in(dir, "split.csv"));
  run.groups = groups_of_rows(run);

  run.metrics =
      compute_metrics(run.labels, run.probs, run.class_names, bootstrap_rounds, bootstrap_seed);
  check_summary(run, summary);
  read_run_calibration(run, summary, bootstrap_rounds, bootstrap_seed);
  return run;
}

}  // namespace busi::tools
