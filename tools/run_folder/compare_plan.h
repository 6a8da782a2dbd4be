// The plan of a cross-validated comparison (compare's default), written first as OUT/compare.json
// so that a killed run resumes it and later tools (the report, predict's fold ensembles) find its
// folders: folds, repeats, seed, models, and the trainer flags it passed on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/formats/json_value.h"

namespace busi::tools {

// The run folders of model m in repeat r (from 1), fold k (from 1): OUT/repeat<r>/fold<k>/<m>.
struct CvPlan {
  std::string out;
  int64_t folds = 5, repeats = 1;
  uint64_t seed = 42;  // repeat r splits and trains with seed + r - 1
  std::vector<std::string> models = {"simple_cnn", "vgg16"};  // plus "vgg16_random": --ablation
  Json flags = Json::object();  // the trainer flags compare passes on, for the resume check

  std::string fold_dir(int64_t repeat, int64_t fold, const std::string& model) const;
  // dirs[r][k] of one model, for load_pooled_run.
  std::vector<std::vector<std::string>> dirs_of(const std::string& model) const;
  uint64_t seed_of(int64_t repeat) const { return seed + static_cast<uint64_t>(repeat - 1); }
  bool ablation() const;
};
Json plan_to_json(const CvPlan& plan);
// Throws busi::Error naming `path` when the JSON is not a plan.
CvPlan plan_from_json(const Json& j, const std::string& out, const std::string& path);
inline constexpr const char* kPlanFile = "compare.json";
// The Grad-CAM panel compare writes after the folds (compare/gradcam_panel.h) and the report
// shows, under the compare folder.
inline constexpr const char* kGradcamPanelFile = "gradcam/panel.json";

// "SimpleCNN", "VGG16", "VGG16 (random init)" for a model folder name (others as they are).
std::string model_title(const std::string& model);

// The data folder the comparison trained on, as fold 1's first run recorded it in its
// config.json ("data"). Throws busi::Error naming the file when it is missing or says none.
std::string trained_data_folder(const CvPlan& plan);

// True when `dir` holds a compare.json (a cross-validated comparison's folder).
bool is_compare_folder(const std::string& dir);
// The plan in `dir`/compare.json; throws busi::Error naming the file when it is missing or not a
// plan.
CvPlan read_compare_plan(const std::string& dir);

}  // namespace busi::tools
