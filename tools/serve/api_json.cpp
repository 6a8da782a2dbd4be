// The API's JSON documents (see api_json.h).
#include "tools/serve/api_json.h"

#include <filesystem>

#include "tools/run_folder/compare_plan.h"
#include "tools/train/run_checkpoint.h"

namespace busi::tools {

namespace {

namespace fs = std::filesystem;

// One of the trainer's flags as recorded in the checkpoint ("" when absent).
std::string flag(const Json& flags, const char* name) {
  const Json* v = flags.find(name);
  return v != nullptr && v->is_string() ? v->as_string() : "";
}

// The split the run trained on, in words.
std::string split_sentence(const Json& flags) {
  const std::string csv = flag(flags, "--split-csv");
  if (!csv.empty()) return "read from " + csv;
  const std::string folds = flag(flags, "--folds");
  std::string s;
  if (!folds.empty() && folds != "0") {
    s = "fold ";
    s += flag(flags, "--fold");
    s += " of ";
    s += folds;
    s += " (cross-validation)";
  } else {
    s = "random split: validation ";
    s += flag(flags, "--val-frac");
    s += ", test ";
    s += flag(flags, "--test-frac");
  }
  s += ", seed ";
  s += flag(flags, "--seed");
  s += ", duplicates grouped: ";
  s += flag(flags, "--group-duplicates");
  return s;
}

// Provenance of one member: its checkpoint's metadata, and config.json of its run folder.
Json member_json(const LoadedModel& m) {
  Json j = Json::object();
  j["checkpoint"] = m.path;
  const weights::CheckpointInfo info = read_checkpoint_metadata(m.path);
  const auto flags_text = info.settings.find("flags");
  const Json flags = flags_text == info.settings.end()
                         ? Json::object()
                         : parse_json(flags_text->second, m.path + " (flags)");
  j["data"] = flag(flags, "--data");
  j["split"] = split_sentence(flags);
  j["preset"] = flag(flags, "--preset");
  const auto layers = info.settings.find("imagenet_layers_loaded");
  if (layers != info.settings.end()) {
    std::string s = "ImageNet weights: ";
    s += layers->second;
    s += " of 13 conv layers (";
    s += flag(flags, "--weights");
    s += ")";
    j["imagenet_weights"] = s;
  }
  const fs::path config = fs::path(m.path).parent_path() / "config.json";
  std::string commit = "not recorded";
  if (fs::is_regular_file(config)) {
    const Json c = read_json_file(config.string());
    if (const Json* g = c.find("git_commit"); g != nullptr && g->is_string())
      commit = g->as_string();
    if (const Json* t = c.find("created"); t != nullptr && t->is_string()) j["created"] = *t;
  }
  j["training_commit"] = commit;
  return j;
}

}  // namespace

Json model_json(const Classifier& c, const DecisionRule& rule) {
  const LoadedModel& first = c.first();
  Json j = Json::object();
  j["source"] = c.source;
  j["model"] = model_title(c.model);
  j["members"] = static_cast<int64_t>(c.members.size());
  j["classes"] = first.class_names;
  std::string input = std::to_string(first.img_size);
  input += " x ";
  input += std::to_string(first.img_size);
  input += first.channels == 1 ? " grey" : " RGB";
  input += ", normalisation ";
  input += first.normalization.name;
  j["input"] = input;
  j["probabilities"] = rule.calibrated ? "calibrated: softmax(logits / T), T fitted on validation"
                                       : "the network's own softmax (not calibrated)";
  if (rule.malignant_threshold)
    j["threshold"] = *rule.malignant_threshold;
  else
    j["threshold"] = nullptr;
  j["decision"] = decision_sentence(c, rule);
  Json members = Json::array();
  for (const LoadedModel& m : c.members) members.push_back(member_json(m));
  j["provenance"] = members;
  j["research_only"] =
      "a research model trained on a few hundred images of one public data set (BUSI); not a "
      "diagnostic device";
  return j;
}

Json prediction_json(const Classifier& c, const DecisionRule& rule, const Prediction& p,
                     const data::Image& decoded) {
  const std::vector<std::string>& names = c.first().class_names;
  Json j = Json::object();
  Json probs = Json::object();
  for (size_t k = 0; k < names.size(); ++k) probs[names[k]] = p.probs[k];
  j["probabilities"] = probs;
  j["decision"] = names.at(static_cast<size_t>(p.predicted));
  if (rule.malignant_threshold) {
    j["malignant_flag"] = p.flagged;
    j["threshold"] = *rule.malignant_threshold;
  } else {
    j["malignant_flag"] = nullptr;
    j["threshold"] = nullptr;
  }
  j["warnings"] = p.warnings;
  Json image = Json::object();
  image["width"] = decoded.width;
  image["height"] = decoded.height;
  j["image"] = image;
  return j;
}

std::string error_json(const std::string& message) {
  Json j = Json::object();
  j["error"] = message;
  return j.dump(0);
}

}  // namespace busi::tools
