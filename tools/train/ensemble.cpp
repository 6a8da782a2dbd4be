// The fold ensemble of a cross-validated comparison (see ensemble.h).
#include "tools/train/ensemble.h"

#include <algorithm>
#include <filesystem>

#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "tools/metrics/calibration.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

namespace fs = std::filesystem;

std::vector<std::string> compare_models(const std::string& compare_dir) {
  return read_compare_plan(compare_dir).models;
}

Ensemble load_ensemble(const std::string& compare_dir, const std::string& model, Device device) {
  const CvPlan plan = read_compare_plan(compare_dir);
  BUSI_CHECK(
      std::find(plan.models.begin(), plan.models.end(), model) != plan.models.end(), compare_dir,
      ": the comparison has no model '", model, "' (it has ",
      [&] {
        std::string names;
        for (const std::string& m : plan.models) names += (names.empty() ? "" : ", ") + m;
        return names;
      }(),
      ")");
  Ensemble e;
  e.compare_dir = compare_dir;
  e.model = model;
  double threshold_sum = 0;
  bool every_threshold = true;
  for (int64_t k = 1; k <= plan.folds; ++k) {
    const std::string checkpoint =
        (fs::path(plan.fold_dir(1, k, model)) / "best.safetensors").string();
    BUSI_CHECK(fs::is_regular_file(checkpoint), checkpoint, ": missing (fold ", k,
               " has not finished: continue the comparison with compare --out ", compare_dir, ")");
    LoadedModel m = load_model(checkpoint, device);
    if (e.members.empty()) {
      e.class_names = m.class_names;
    } else {
      BUSI_CHECK(m.class_names == e.class_names && m.img_size == e.members[0].img_size &&
                     m.channels == e.members[0].channels,
                 checkpoint, ": its classes or input size differ from fold 1's");
    }
    if (m.malignant_threshold)
      threshold_sum += *m.malignant_threshold;
    else
      every_threshold = false;
    e.members.push_back(std::move(m));
  }
  if (every_threshold)
    e.malignant_threshold = threshold_sum / static_cast<double>(e.members.size());
  return e;
}

std::vector<double> member_probabilities(const LoadedModel& m, const data::Image& decoded,
                                         Device device, bool flip) {
  NoGradGuard no_grad;
  const double t = m.temperature.value_or(1.0);
  std::vector<double> p = softmax_with_temperature(
      {m.head(m.features(prepare_input(m, decoded, device))).to_vector()}, t)[0];
  if (!flip) return p;
  const std::vector<double> mirrored = softmax_with_temperature(
      {m.head(m.features(prepare_input(m, decoded, device, true))).to_vector()}, t)[0];
  for (size_t k = 0; k < p.size(); ++k) p[k] = 0.5 * (p[k] + mirrored[k]);
  return p;
}

std::vector<double> ensemble_probabilities(const Ensemble& e, const data::Image& decoded,
                                           Device device, bool flip) {
  std::vector<double> mean(e.class_names.size(), 0.0);
  for (const LoadedModel& m : e.members) {
    const std::vector<double> p = member_probabilities(m, decoded, device, flip);
    for (size_t k = 0; k < mean.size(); ++k)
      mean[k] += p[k] / static_cast<double>(e.members.size());
  }
  return mean;
}

}  // namespace busi::tools
