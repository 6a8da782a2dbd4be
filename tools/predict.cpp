// predict: classifies ultrasound images with a checkpoint of train_simple or finetune_vgg (the
// model, image size, normalisation, class names and the fitted temperature come from the
// checkpoint), or with the fold models of a cross-validated comparison (compare's folder: their
// calibrated probabilities averaged), prints the class and the calibrated probabilities per image
// (or CSV), can flag malignant at a chosen threshold, and optionally writes Grad-CAM heat maps as
// PNG.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "data/image.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/formats/csv.h"
#include "tools/predict/classifier.h"
#include "tools/predict/decision.h"
#include "tools/predict/predict_image.h"

using namespace busi;
using namespace busi::tools;

namespace {

namespace fs = std::filesystem;

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

int run(int argc, char** argv) {
  std::string checkpoint, gradcam_dir, device_flag = "auto", model_flag, tta = "off";
  std::string probabilities = "calibrated", threshold_flag = "validation";
  bool csv = false, skip_bad = false;
  float max_megapixels = 64.0f;
  std::vector<std::string> inputs;
  CommandLine cli("predict",
                  "Classifies ultrasound images with a checkpoint written by train_simple or "
                  "finetune_vgg; prints each image's class and the probability of every class.");
  add_classifier_flags(cli, &checkpoint, &model_flag);
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
  // What the probabilities and the decision are, on stdout unless CSV; notes on stderr.
  RuleMessages messages;
  messages.info = [csv](const std::string& line) {
    if (!csv) std::printf("%s\n", line.c_str());
  };
  messages.note = [](const std::string& note) { std::cerr << "predict: note: " << note << "\n"; };
  const DecisionRule rule =
      decision_rule(classifier, probabilities, threshold_flag, cli.given("--malignant-threshold"),
                    tta == "flip", messages);
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
      p = predict_file(classifier, rule, file, device, cam_file);
    } catch (const Error& e) {
      if (!skip_bad) throw;
      std::cerr << "predict: warning: skipped " << e.what() << "\n";
      ++skipped;
      continue;
    }
    // Inputs far from the training images are classified all the same, with a word on stderr.
    for (const std::string& warning : p.warnings)
      std::cerr << "predict: warning: " << file << ": " << warning << "\n";
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
