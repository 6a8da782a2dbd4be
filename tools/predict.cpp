// predict: classifies ultrasound images with a checkpoint of train_simple or finetune_vgg (the
// model, image size, normalisation, class names and the fitted temperature come from the
// checkpoint), or with the fold models of a cross-validated comparison (compare's folder: their
// calibrated probabilities averaged), prints the class and the calibrated probabilities per image
// (or CSV), can flag malignant at a chosen threshold, and optionally writes Grad-CAM heat maps as
// PNG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "data/image.h"
#include "engine/autograd.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/explain/gradcam.h"
#include "tools/formats/csv.h"
#include "tools/metrics/calibration.h"
#include "tools/metrics/operating_point.h"
#include "tools/run_folder/compare_plan.h"
#include "tools/train/checkpoint_model.h"
#include "tools/train/ensemble.h"

using namespace busi;
using namespace busi::tools;

namespace {

namespace fs = std::filesystem;

// ---- The classifier -----------------------------------------------------------------------------

// What predict classifies with: one checkpoint, or the fold models of one architecture of a
// cross-validated comparison. Either way its probabilities are the mean over its members of each
// member's softmax(z / T) (T = 1 for raw probabilities), with the mirror image averaged in too
// when asked.
struct Classifier {
  std::vector<LoadedModel> members;
  std::string source;  // the checkpoint, or "the 5 SimpleCNN fold models of runs/compare-X"
  std::optional<double> malignant_threshold;  // the model's, or the mean of the members'
  bool ensemble = false;
  const LoadedModel& first() const { return members.front(); }
};

// --checkpoint: a checkpoint file, a run folder (its best.safetensors), or a compare folder (the
// fold models of --model, or of its only model).
Classifier load_classifier(const std::string& checkpoint, const std::string& model_flag,
                           Device device) {
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
  c.malignant_threshold = c.first().malignant_threshold;
  return c;
}

// ---- Images -------------------------------------------------------------------------------------

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const std::string stem = p.stem().string();
  const bool mask = stem.find("_mask") != std::string::npos;  // BUSI's segmentation masks
  return !mask && (ext == ".png" || ext == ".jpg" || ext == ".jpeg");
}

// The files given, and the images in the folders given (recursively, sorted, masks skipped).
std::vector<std::string> collect_images(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& arg : args) {
    if (fs::is_directory(arg)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(arg))
        if (entry.is_regular_file() && is_image_name(entry.path()))
          found.push_back(entry.path().string());
      std::sort(found.begin(), found.end());
      BUSI_CHECK(!found.empty(), "'", arg, "': no PNG or JPEG images in this folder");
      files.insert(files.end(), found.begin(), found.end());
    } else {
      BUSI_CHECK(fs::exists(arg), "'", arg, "': no such file or folder");
      files.push_back(arg);
    }
  }
  return files;
}

// "<out_dir>/<file stem>_gradcam.png", numbered when two inputs share a stem.
std::string gradcam_path(const std::string& out_dir, const std::string& image_path,
                         std::set<std::string>& used) {
  const std::string stem = fs::path(image_path).stem().string();
  std::string name = stem + "_gradcam.png";
  for (int i = 2; used.count(name) > 0; ++i) name = stem + "_gradcam_" + std::to_string(i) + ".png";
  used.insert(name);
  return (fs::path(out_dir) / name).string();
}

// ---- Output -------------------------------------------------------------------------------------

// How a prediction is read off the probabilities: the argmax or, with a malignant threshold,
// "malignant" whenever its probability reaches the threshold (the argmax of the others otherwise).
struct DecisionRule {
  std::optional<double> malignant_threshold;
  int64_t malignant = -1;  // the class index of "malignant"
  bool flip = false;       // the mirror image averaged in (test-time augmentation)
};

struct Prediction {
  std::string path;
  int64_t predicted = 0;
  std::vector<double> probs;
  bool flagged = false;  // malignant by the threshold
};

void print_text(const LoadedModel& m, const DecisionRule& rule, const Prediction& p) {
  std::printf("%s: %s  (", p.path.c_str(), m.class_names.at(p.predicted).c_str());
  for (size_t c = 0; c < p.probs.size(); ++c)
    std::printf("%s%s %.3f", c == 0 ? "" : ", ", m.class_names[c].c_str(), p.probs[c]);
  std::printf(")");
  if (rule.malignant_threshold)
    std::printf("  malignant %s %.3f", p.flagged ? ">=" : "<", *rule.malignant_threshold);
  std::printf("\n");
}

void print_csv_row(const Prediction& p, const LoadedModel& m) {
  std::cout << csv_escape(p.path) << ',' << csv_escape(m.class_names.at(p.predicted));
  for (double prob : p.probs) std::cout << ',' << CsvField(prob).text;
  std::cout << '\n';
}

// The class of one image by the rule, from its probabilities.
void decide(const DecisionRule& rule, Prediction& p) {
  p.predicted = std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin();
  if (!rule.malignant_threshold) return;
  const auto m = static_cast<size_t>(rule.malignant);
  p.flagged = p.probs[m] >= *rule.malignant_threshold;
  if (p.flagged) {
    p.predicted = rule.malignant;
  } else if (p.predicted == rule.malignant) {  // below the threshold: the best other class
    double best = -1.0;
    for (size_t c = 0; c < p.probs.size(); ++c)
      if (c != m && p.probs[c] > best) {
        best = p.probs[c];
        p.predicted = static_cast<int64_t>(c);
      }
  }
}

// Classifies one image, and writes its Grad-CAM overlay when gradcam_file is not empty. The
// heat map explains the class the rule chose (for an ensemble, the members' maps averaged).
Prediction predict_one(const Classifier& c, const DecisionRule& rule, const std::string& path,
                       Device device, const std::string& gradcam_file) {
  const data::Image decoded = data::decode_image_file(path, c.first().channels);
  Prediction p;
  p.path = path;
  p.probs.assign(c.first().class_names.size(), 0.0);
  for (const LoadedModel& m : c.members) {
    const std::vector<double> q = member_probabilities(m, decoded, device, rule.flip);
    for (size_t k = 0; k < q.size(); ++k)
      p.probs[k] += q[k] / static_cast<double>(c.members.size());
  }
  decide(rule, p);
  if (!gradcam_file.empty()) {
    HeatMap mean;
    for (const LoadedModel& m : c.members) {
      Tensor features;
      {
        NoGradGuard no_grad;
        features = m.features(prepare_input(m, decoded, device));
      }
      const HeatMap map =
          resize_heat_map(grad_cam(features, m.head, p.predicted), decoded.height, decoded.width);
      if (mean.values.empty())
        mean = HeatMap{map.height, map.width, std::vector<float>(map.values.size(), 0.0f)};
      for (size_t i = 0; i < map.values.size(); ++i)
        mean.values[i] += map.values[i] / static_cast<float>(c.members.size());
    }
    write_png(gradcam_file, overlay_heat_map(decoded, mean));
  }
  return p;
}

// The rule from the flags and the classifier; prints (unless CSV) what the probabilities are.
// With --probabilities raw the members' temperatures are dropped here.
// The default decision is the malignant threshold the run chose on validation (issue 25: the
// argmax of a model trained on 118 malignant images missed a third to a half of them); a run
// without one (written before calibration, or without a malignant class) falls back to the argmax
// with a note, unless --malignant-threshold validation was asked for by name.
DecisionRule decision_rule(Classifier& c, const std::string& probabilities,
                           std::string threshold_flag, bool threshold_given, bool flip,
                           bool quiet) {
  DecisionRule rule;
  rule.flip = flip;
  if (!quiet && c.ensemble)
    std::printf("ensemble: %s, their probabilities averaged%s\n", c.source.c_str(),
                flip ? " (each over the image and its mirror)" : "");
  if (probabilities == "calibrated") {
    const bool all = std::all_of(c.members.begin(), c.members.end(),
                                 [](const LoadedModel& m) { return m.temperature.has_value(); });
    if (!all) {
      std::cerr << "predict: note: " << c.source
                << " has no temperature (written before calibration existed): the "
                   "probabilities are the network's own, uncalibrated\n";
    } else if (!quiet && c.ensemble) {
      std::printf(
          "probabilities calibrated: each model's softmax(logits / T), T fitted on its "
          "fold's validation subset (--probabilities raw: the networks' own)\n");
    } else if (!quiet) {
      std::printf(
          "probabilities calibrated: softmax(logits / %.3f), the temperature fitted on "
          "the run's validation subset (--probabilities raw: the network's own)\n",
          *c.first().temperature);
    }
  } else {
    for (LoadedModel& m : c.members) m.temperature.reset();
    if (!quiet) std::printf("probabilities raw: the network's softmax, not calibrated\n");
  }
  const std::vector<std::string>& names = c.first().class_names;
  const auto found = std::find(names.begin(), names.end(), kMalignantClass);
  const bool has_malignant = found != names.end();
  if (threshold_flag == "validation" && !threshold_given &&
      (!has_malignant || !c.malignant_threshold)) {
    std::cerr << "predict: note: " << c.source
              << (has_malignant ? " holds no malignant threshold (written before calibration "
                                  "existed)"
                                : " has no class named malignant")
              << ": the decision is the most probable class (argmax)\n";
    threshold_flag = "off";
  }
  if (threshold_flag == "off") {
    if (!quiet) std::printf("decision: the most probable class (argmax), no malignant threshold\n");
    return rule;
  }
  BUSI_CHECK(has_malignant,
             "--malignant-threshold: the checkpoint's classes have "
             "no 'malignant'");
  rule.malignant = found - names.begin();
  if (threshold_flag == "validation") {
    BUSI_CHECK(c.malignant_threshold, "--malignant-threshold validation: ", c.source,
               " holds no threshold (written before calibration existed); give a number");
    rule.malignant_threshold = c.malignant_threshold;
  } else {
    size_t used = 0;
    double value = -1.0;
    try {
      value = std::stod(threshold_flag, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != threshold_flag.size() || !(value >= 0.0 && value <= 1.0))
      throw UsageError(
          "--malignant-threshold: expected off, validation or a number in [0, 1], "
          "got '" +
          threshold_flag + "'");
    rule.malignant_threshold = value;
  }
  if (probabilities == "raw" && threshold_flag == "validation")
    std::cerr << "predict: note: the validation threshold was chosen on calibrated "
                 "probabilities; with --probabilities raw it does not give 90 % sensitivity\n";
  if (!quiet)
    std::printf(
        "decision: malignant when its probability is >= %.3f%s, else the most probable other "
        "class\n",
        *rule.malignant_threshold,
        threshold_flag != "validation" ? ""
        : c.ensemble ? " (the mean of the fold models' thresholds, each chosen on its "
                       "fold's validation subset for 90 % sensitivity)"
                     : " (chosen on the run's validation subset for 90 % sensitivity)");
  return rule;
}

int run(int argc, char** argv) {
  std::string checkpoint, gradcam_dir, device_flag = "auto", model_flag, tta = "off";
  std::string probabilities = "calibrated", threshold_flag = "validation";
  bool csv = false, skip_bad = false;
  float max_megapixels = 64.0f;
  std::vector<std::string> inputs;
  CommandLine cli("predict",
                  "Classifies ultrasound images with a checkpoint written by train_simple or "
                  "finetune_vgg; prints each image's class and the probability of every class.");
  cli.add("--checkpoint", &checkpoint, "PATH",
          "best.safetensors or last.safetensors of a run, a run folder (its best.safetensors), "
          "or a compare folder: its fold models of one architecture, probabilities averaged");
  cli.add("--model", &model_flag, "NAME",
          "with a compare folder: simple_cnn, vgg16 or vgg16_random (needed when it has more "
          "than one)");
  cli.add_choice("--tta", &tta, {"off", "flip"},
                 "test-time augmentation: flip averages in each image's left-right mirror");
  cli.add_switch("--csv", &csv, "CSV output: path,pred,prob_<class>... with a header");
  cli.add_choice("--probabilities", &probabilities, {"calibrated", "raw"},
                 "calibrated: softmax(logits / T) with the temperature T fitted on the run's "
                 "validation subset (stored in the checkpoint); raw: the network's softmax");
  cli.add("--malignant-threshold", &threshold_flag, "off|validation|P",
          "call an image malignant when its probability is >= P (validation: the threshold "
          "the run chose on its validation subset for 90 % sensitivity; the default when the "
          "run has one); off: the most probable class (argmax)");
  cli.add("--gradcam", &gradcam_dir, "OUT_DIR",
          "also write a Grad-CAM heat map over each image, OUT_DIR/<name>_gradcam.png");
  cli.add_choice("--device", &device_flag, {"auto", "cpu", "cuda"}, "where to compute");
  cli.add_switch("--skip-bad", &skip_bad,
                 "an image that cannot be read, is not an image or is too large gets a warning "
                 "and is skipped (the exit status is then 1); otherwise predict stops at it");
  cli.add("--max-image-megapixels", &max_megapixels, "MP",
          "refuse images whose header claims more pixels (1 MP = 2^20; 64 = 8192 x 8192)");
  cli.allow_positionals(&inputs, "IMAGE|DIR",
                        "PNG/JPEG files, or folders searched recursively (files named *_mask* "
                        "are skipped)");
  if (!cli.parse(argc, argv)) return 0;
  if (checkpoint.empty()) throw UsageError("--checkpoint PATH is required (see --help)");
  if (inputs.empty()) throw UsageError("no IMAGE or DIR given (see --help)");
  if (!(max_megapixels > 0.0f && max_megapixels <= 4096.0f))
    throw UsageError("--max-image-megapixels must be in (0, 4096]");
  data::set_max_image_pixels(static_cast<int64_t>(double(max_megapixels) * 1048576.0));

  const Device device = choose_device(device_flag);
  Classifier classifier = load_classifier(checkpoint, model_flag, device);
  const DecisionRule rule = decision_rule(classifier, probabilities, threshold_flag,
                                          cli.given("--malignant-threshold"), tta == "flip", csv);
  const LoadedModel& m = classifier.first();
  const std::vector<std::string> files = collect_images(inputs);
  if (!gradcam_dir.empty()) {
    std::error_code ec;
    fs::create_directories(gradcam_dir, ec);
    BUSI_CHECK(!ec, "--gradcam '", gradcam_dir, "': cannot create the folder (", ec.message(), ")");
    if (!csv)
      std::cout << "Grad-CAM of " << m.last_conv << " for the predicted class"
                << (classifier.ensemble ? " (the fold models' maps averaged)" : "") << ", in "
                << gradcam_dir << "/\n";
  }
  if (csv) {
    std::string header = "path,pred";
    for (const std::string& name : m.class_names) header += ",prob_" + name;
    std::cout << header << "\n";
  }
  std::set<std::string> used_names;
  int skipped = 0;
  for (const std::string& file : files) {
    const std::string cam_file =
        gradcam_dir.empty() ? "" : gradcam_path(gradcam_dir, file, used_names);
    Prediction p;
    try {
      p = predict_one(classifier, rule, file, device, cam_file);
    } catch (const Error& e) {
      if (!skip_bad) throw;
      std::cerr << "predict: warning: skipped " << e.what() << "\n";
      ++skipped;
      continue;
    }
    if (csv)
      print_csv_row(p, m);
    else
      print_text(m, rule, p);
  }
  if (skipped > 0)
    std::cerr << "predict: " << skipped << " of " << files.size() << " images skipped\n";
  return skipped > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("predict", run, argc, argv); }
