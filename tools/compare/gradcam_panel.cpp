// The Grad-CAM panel of a cross-validated comparison (see gradcam_panel.h).
#include "tools/compare/gradcam_panel.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "data/image.h"
#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "tools/audit/png_data_uri.h"
#include "tools/explain/gradcam.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/report/pooled_run.h"
#include "tools/train/checkpoint_model.h"
#include "tools/train/ensemble.h"

namespace busi::tools {

namespace fs = std::filesystem;

namespace {

// FNV-1a of the path: a fixed order that does not follow the file names.
uint64_t path_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One model's view of one image: the class it predicted with its probability, and the Grad-CAM
// overlay for that class on the display-sized image, as a data URI.
Json model_view(const LoadedModel& m, const data::Image& decoded, const data::Image& display,
                Device device) {
  const std::vector<double> p = member_probabilities(m, decoded, device, false);
  const auto k = static_cast<int64_t>(std::max_element(p.begin(), p.end()) - p.begin());
  Tensor features;
  {
    NoGradGuard no_grad;
    features = m.features(prepare_input(m, decoded, device));  // (1, K, h, w)
  }
  const HeatMap map = resize_heat_map(grad_cam(features, m.head, k), display.height, display.width);
  Json j = Json::object();
  j["predicted"] = m.class_names.at(static_cast<size_t>(k));
  j["probability"] = p[static_cast<size_t>(k)];
  j["gradcam"] = png_data_uri(overlay_heat_map(display, map));
  return j;
}

}  // namespace

std::string write_gradcam_panel(const CvPlan& plan, Device device, int64_t display_size) {
  BUSI_CHECK(plan.models.size() >= 2, "Grad-CAM panel: needs two models");
  const std::string model_a = plan.models[0], model_b = plan.models[1];
  const PooledRun a = load_pooled_run(plan.dirs_of(model_a), 0);
  const PooledRun b = load_pooled_run(plan.dirs_of(model_b), 0);
  const std::string data_dir = trained_data_folder(plan);

  // Each image's row in B's pooled predictions (the same images, tested in the same folds).
  std::map<std::string, size_t> row_b;
  for (size_t i = 0; i < b.run.paths.size(); ++i) row_b[b.run.paths[i]] = i;
  // Per class: candidates where both are right, both wrong, and where they disagree.
  struct Pick {
    size_t row_a;
    std::string kind;
  };
  std::vector<Pick> picks;
  for (size_t c = 0; c < a.run.class_names.size(); ++c)
    for (const std::string kind : {"both right", "both wrong", "they disagree"}) {
      std::vector<size_t> candidates;
      for (size_t i = 0; i < a.run.paths.size(); ++i) {
        const auto j = row_b.find(a.run.paths[i]);
        if (a.run.labels[i] != static_cast<int64_t>(c) || j == row_b.end()) continue;
        const bool right_a = a.run.preds[i] == a.run.labels[i];
        const bool right_b = b.run.preds[j->second] == b.run.labels[j->second];
        if ((kind == "both right" && right_a && right_b) ||
            (kind == "both wrong" && !right_a && !right_b) ||
            (kind == "they disagree" && right_a != right_b))
          candidates.push_back(i);
      }
      if (candidates.empty()) continue;
      const size_t chosen =
          *std::min_element(candidates.begin(), candidates.end(), [&](size_t x, size_t y) {
            return path_hash(a.run.paths[x]) < path_hash(a.run.paths[y]);
          });
      picks.push_back({chosen, kind});
    }

  // The fold models, loaded once each.
  std::map<std::string, LoadedModel> models;
  const auto model_of = [&](const std::string& model, int64_t fold) -> const LoadedModel& {
    const std::string path =
        (fs::path(plan.fold_dir(1, fold, model)) / "best.safetensors").string();
    auto it = models.find(path);
    if (it == models.end()) it = models.emplace(path, load_model(path, device)).first;
    return it->second;
  };

  Json rows = Json::array();
  for (const Pick& pick : picks) {
    const std::string& path = a.run.paths[pick.row_a];
    const int64_t fold = a.fold_of_row[pick.row_a];
    const std::string file = (fs::path(data_dir) / path).string();
    Json row = Json::object();
    row["path"] = path;
    row["class"] = a.run.class_names[static_cast<size_t>(a.run.labels[pick.row_a])];
    row["kind"] = pick.kind;
    row["fold"] = fold;
    const data::Image grey = data::decode_image_file(file, 1);
    const data::Image display = data::resize_image(grey, display_size, display_size);
    row["image"] = png_data_uri(display);
    for (const std::string& model : {model_a, model_b}) {
      const LoadedModel& m = model_of(model, fold);
      row[model] = model_view(m, data::decode_image_file(file, m.channels), display, device);
    }
    rows.push_back(std::move(row));
  }
  Json panel = Json::object();
  panel["models"] = std::vector<std::string>{model_a, model_b};
  panel["method"] =
      "Grad-CAM (Selvaraju et al. 2017) of the class each model predicted, from its last conv "
      "layer, computed with the fold model that tested the image; red = most weight";
  panel["rows"] = std::move(rows);
  const fs::path out = fs::path(plan.out) / kGradcamPanelFile;
  fs::create_directories(out.parent_path());
  write_text_file(out.string(), panel.dump(1) + "\n");
  return out.string();
}

}  // namespace busi::tools
