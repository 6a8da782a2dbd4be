// Loading a checkpoint, run folder or compare folder as one classifier (see classifier.h).
#include "tools/predict/classifier.h"

#include <filesystem>

#include "kernels/common/error.h"
#include "tools/cli/command_line.h"
#include "tools/run_folder/compare_plan.h"
#include "tools/train/ensemble.h"

namespace busi::tools {

namespace fs = std::filesystem;

Classifier load_classifier(const std::string& checkpoint, const std::string& model_flag,
                           Device device) {
  BUSI_CHECK(fs::exists(checkpoint), "'", checkpoint, "': no such file or folder");
  Classifier c;
  if (is_compare_folder(checkpoint)) {
    const std::vector<std::string> models = compare_models(checkpoint);
    std::string model = model_flag;
    if (model.empty()) {
      if (models.size() != 1) {
        std::string names;
        for (const std::string& m : models) names += (names.empty() ? "" : ", ") + m;
        throw UsageError(checkpoint + " holds the fold models of " + names +
                         ": choose one with --model");
      }
      model = models[0];
    }
    Ensemble e = load_ensemble(checkpoint, model, device);
    c.source = "the " + std::to_string(e.members.size()) + " " + model_title(model) +
               " fold models of " + checkpoint;
    c.members = std::move(e.members);
    c.malignant_threshold = e.malignant_threshold;
    c.ensemble = true;
    c.model = model;
    return c;
  }
  if (!model_flag.empty())
    throw UsageError("--model goes with a compare folder; " + checkpoint + " is not one");
  std::string file = checkpoint;
  if (fs::is_directory(checkpoint)) {
    file = (fs::path(checkpoint) / "best.safetensors").string();
    BUSI_CHECK(fs::is_regular_file(file), "'", checkpoint,
               "': a folder without best.safetensors or compare.json (give a run folder, a "
               "compare folder or a checkpoint file)");
  }
  c.members.push_back(load_model(file, device));
  c.source = file;
  c.model = c.first().name;
  c.malignant_threshold = c.first().malignant_threshold;
  return c;
}

void add_classifier_flags(CommandLine& cli, std::string* checkpoint, std::string* model_flag) {
  cli.add("--checkpoint", checkpoint, "PATH",
          "best.safetensors or last.safetensors of a run, a run folder (its best.safetensors), "
          "or a compare folder: its fold models of one architecture, probabilities averaged");
  cli.add("--model", model_flag, "NAME",
          "with a compare folder: simple_cnn, vgg16 or vgg16_random (needed when it has more "
          "than one)");
}

}  // namespace busi::tools
