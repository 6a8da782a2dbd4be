// The plan of a cross-validated comparison (see compare_plan.h).
#include "tools/run_folder/compare_plan.h"

#include <algorithm>
#include <filesystem>

#include "kernels/common/error.h"

namespace busi::tools {

namespace fs = std::filesystem;

std::string CvPlan::fold_dir(int64_t repeat, int64_t fold, const std::string& model) const {
  return (fs::path(out) / ("repeat" + std::to_string(repeat)) / ("fold" + std::to_string(fold)) /
          model)
      .string();
}

std::vector<std::vector<std::string>> CvPlan::dirs_of(const std::string& model) const {
  std::vector<std::vector<std::string>> dirs(static_cast<size_t>(repeats));
  for (int64_t r = 1; r <= repeats; ++r)
    for (int64_t k = 1; k <= folds; ++k)
      dirs[static_cast<size_t>(r - 1)].push_back(fold_dir(r, k, model));
  return dirs;
}

bool CvPlan::ablation() const {
  return std::find(models.begin(), models.end(), "vgg16_random") != models.end();
}

Json plan_to_json(const CvPlan& plan) {
  Json j = Json::object();
  j["kind"] = "cross-validation";
  j["folds"] = plan.folds;
  j["repeats"] = plan.repeats;
  j["seed"] = static_cast<int64_t>(plan.seed);
  j["models"] = plan.models;
  j["layout"] = "repeat<r>/fold<k>/<model>";
  j["flags"] = plan.flags;
  return j;
}

CvPlan plan_from_json(const Json& j, const std::string& out, const std::string& path) {
  BUSI_CHECK(j.is_object() && j.find("kind") && j.at("kind").is_string() &&
                 j.at("kind").as_string() == "cross-validation",
             path,
             ": not the plan of a cross-validated comparison (no \"kind\": "
             "\"cross-validation\")");
  CvPlan plan;
  plan.out = out;
  plan.folds = j.at("folds").as_int();
  plan.repeats = j.at("repeats").as_int();
  plan.seed = static_cast<uint64_t>(j.at("seed").as_int());
  plan.models.clear();
  for (const Json& m : j.at("models").elements()) plan.models.push_back(m.as_string());
  if (const Json* flags = j.find("flags")) plan.flags = *flags;
  BUSI_CHECK(plan.folds >= 2 && plan.repeats >= 1 && plan.models.size() >= 2, path,
             ": folds must be >= 2, repeats >= 1, and two models or more");
  return plan;
}

std::string model_title(const std::string& model) {
  if (model == "simple_cnn") return "SimpleCNN";
  if (model == "vgg16") return "VGG16";
  if (model == "vgg16_random") return "VGG16 (random init)";
  return model;
}

std::string trained_data_folder(const CvPlan& plan) {
  const std::string dir = plan.fold_dir(1, 1, plan.models.at(0));
  const Json config = read_json_file((fs::path(dir) / "config.json").string());
  const Json* data = config.find("data");
  BUSI_CHECK(data && data->is_string(), dir, "/config.json: no \"data\" folder recorded");
  return data->as_string();
}

bool is_compare_folder(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / kPlanFile, ec);
}

CvPlan read_compare_plan(const std::string& dir) {
  const std::string path = (fs::path(dir) / kPlanFile).string();
  std::error_code ec;
  BUSI_CHECK(fs::is_regular_file(path, ec), path,
             ": missing (not the folder of a cross-validated "
             "comparison)");
  return plan_from_json(read_json_file(path), dir, path);
}

}  // namespace busi::tools
