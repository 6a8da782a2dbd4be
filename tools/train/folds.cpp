// --all-folds: every fold trained in its own folder, then their summary (see folds.h).
#include "tools/train/folds.h"

#include <cmath>
#include <iostream>
#include <numeric>

#include "tools/formats/text_file.h"
#include "tools/run_folder/run_dir.h"
#include "tools/train/run_config.h"

namespace busi::tools {

void train_runs(const CommandLine& cli, TrainingSettings& s, const std::string& model_name,
                Device device, const TrainRun& train_run) {
  if (!s.all_folds) {
    train_run(s.out, s.folds > 0 ? s.fold : 0);
    return;
  }
  prepare_run_dir(s.out);
  std::vector<ClassificationMetrics> folds;
  for (int64_t fold = 1; fold <= s.folds; ++fold) {
    std::cout << "\n==== fold " << fold << " of " << s.folds << " ====\n";
    s.fold = fold;  // recorded in the fold's config and checkpoints
    std::optional<ClassificationMetrics> m =
        train_run(s.out + "/fold" + std::to_string(fold), fold);
    if (!m) return;
    folds.push_back(*m);
  }
  write_config_json(s.out,
                    make_config(cli, s, model_name, device, BUSI_SOURCE_DIR, Json::object()));
  write_fold_summary(s.out, model_name, folds, Json::object());
  std::cout << "cross-validation summary in " << s.out << "/metrics.json\n";
}

void write_fold_summary(const std::string& dir, const std::string& model_name,
                        const std::vector<ClassificationMetrics>& folds, const Json& extra) {
  Json doc = Json::object();
  doc["model"] = model_name;
  doc["folds"] = static_cast<int64_t>(folds.size());
  Json& per_fold = doc["fold_metrics"] = Json::array();
  for (size_t i = 0; i < folds.size(); ++i) {
    Json entry = Json::object();
    entry["fold"] = static_cast<int64_t>(i + 1);
    entry["test"] = metrics_to_json_value(folds[i]);
    per_fold.push_back(entry);
  }
  // Mean and sample standard deviation (n - 1) of each main score across the folds.
  const std::vector<std::pair<std::string, double ClassificationMetrics::*>> scores = {
      {"accuracy", &ClassificationMetrics::accuracy},
      {"balanced_accuracy", &ClassificationMetrics::balanced_accuracy},
      {"macro_f1", &ClassificationMetrics::macro_f1},
      {"macro_auc", &ClassificationMetrics::macro_auc}};
  Json& summary = doc["summary"] = Json::object();
  for (const auto& [name, member] : scores) {
    std::vector<double> values;
    for (const ClassificationMetrics& m : folds) values.push_back(m.*member);
    const double mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    Json& entry = summary[name] = Json::object();
    entry["mean"] = mean;
    entry["std"] = values.size() > 1 ? std::sqrt(squares / (values.size() - 1)) : 0.0;
    entry["values"] = values;
  }
  for (const auto& [key, value] : extra.items()) doc[key] = value;
  write_text_file(dir + "/metrics.json", doc.dump(2) + "\n");
}

}  // namespace busi::tools
