// config.json, the checkpoint settings and the normalisation as JSON (see run_config.h).
#include "tools/train/run_config.h"

#include "kernels/common/error.h"
#include "tools/cli/progress_bar.h"
#include "tools/run_folder/run_dir.h"

namespace busi::tools {

Json make_config(const CommandLine& cli, const TrainingSettings& s, const std::string& model_name,
                 Device device, const std::string& source_dir, const Json& extra) {
  Json config = Json::object();
  config["model"] = model_name;
  config["seed"] = s.seed;
  config["device"] = device.str();
  config["git_commit"] = git_commit(source_dir);
  config["preset"] = s.preset;
  config["img_size"] = s.img_size;
  config["epochs"] = s.epochs;
  config["created"] = local_timestamp();
  config["precision"] = s.precision_used;  // the precision used, and why
  config["precision_reason"] = s.precision_reason;
  // Every flag as it was used; "device" and "precision" above are the ones chosen, the flags are
  // "device_flag" and "precision_flag".
  const Json settings = cli.settings_json();
  for (const auto& [key, value] : settings.items()) {
    const bool chosen = key == "device" || key == "precision";
    if (config.contains(key) && !chosen) continue;
    config[chosen ? key + "_flag" : key] = value;
  }
  for (const auto& [key, value] : extra.items()) config[key] = value;
  const Json environment = environment_json(device.is_cuda());
  for (const auto& [key, value] : environment.items()) config[key] = value;
  return config;
}

std::map<std::string, std::string> base_checkpoint_metadata(const CommandLine& cli,
                                                            const TrainingSettings& s,
                                                            const PreparedData& d) {
  Json settings = Json::object();
  for (const auto& [flag, text] : cli.settings_text()) settings[flag] = text;
  std::map<std::string, std::string> metadata;
  metadata["flags"] = settings.dump(0);
  metadata["class_names"] = Json(d.index.classes).dump(0);
  metadata["img_size"] = std::to_string(s.img_size);
  return metadata;
}

TrainerOptions make_trainer_options(const CommandLine& cli, const TrainingSettings& s,
                                    const PreparedData& d, const std::string& run_dir,
                                    const std::string& model_name, Device device,
                                    const Json& architecture,
                                    const data::Normalization& normalization) {
  TrainerOptions options;
  options.run_dir = run_dir;
  options.model_name = model_name;
  options.class_names = d.index.classes;
  options.device = device;
  options.patience = s.patience;
  options.stop_after_epoch = s.stop_after;
  options.live_progress = stdout_is_terminal();
  options.checkpoint_metadata = base_checkpoint_metadata(cli, s, d);
  options.checkpoint_metadata["architecture"] = architecture.dump(0);
  options.checkpoint_metadata["normalization"] = normalization_to_json(normalization).dump(0);
  return options;
}

void add_run_facts(Json& extra, const TrainingSettings& s, const PreparedData& d, int64_t fold,
                   const Json& architecture, const data::Normalization& normalization) {
  extra["normalization"] = normalization_to_json(normalization);
  extra["architecture"] = architecture;
  extra["grouping"] = grouping_json(s, d);
  if (s.folds > 0) extra["fold"] = fold;
}

Json normalization_to_json(const data::Normalization& n) {
  Json j = Json::object();
  j["name"] = n.name;
  j["bgr"] = n.bgr;
  j["scale"] = n.scale;
  j["mean"] = n.mean;
  j["std"] = n.std;
  return j;
}

data::Normalization normalization_from_json(const Json& j) {
  data::Normalization n;
  n.name = j.at("name").as_string();
  n.bgr = j.at("bgr").as_bool();
  n.scale = j.at("scale").as_number();
  for (const Json& v : j.at("mean").elements()) n.mean.push_back(v.as_number());
  for (const Json& v : j.at("std").elements()) n.std.push_back(v.as_number());
  BUSI_CHECK(!n.mean.empty() && n.mean.size() == n.std.size(), "normalisation '", n.name,
             "': mean and std differ in length");
  return n;
}

}  // namespace busi::tools
