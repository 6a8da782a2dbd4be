// predict: classifies ultrasound images with a checkpoint of train_simple or finetune_vgg (the
// model, image size, normalisation, class names and the fitted temperature come from the
// checkpoint), prints the class and the calibrated probabilities per image (or CSV), can flag
// malignant at a chosen threshold, and optionally writes Grad-CAM heat maps as PNG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "data/image.h"
#include "data/normalize.h"
#include "engine/autograd.h"
#include "models/simple_cnn.h"
#include "models/vgg16.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/explain/gradcam.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/metrics/calibration.h"
#include "tools/train/architecture.h"
#include "tools/train/calibrated_test.h"
#include "tools/train/run_checkpoint.h"
#include "tools/train/run_config.h"

using namespace busi;
using namespace busi::tools;

namespace {

namespace fs = std::filesystem;

// A trained network as predict uses it, split where Grad-CAM looks: features (up to the last
// conv layer's ReLU) and head (the rest, to the logits).
struct LoadedModel {
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(const Tensor&)> features, head;
  std::string name, last_conv;
  int64_t channels = 1, img_size = 0;
  data::Normalization normalization;
  std::vector<std::string> class_names;
  // Temperature scaling fitted on the run's validation subset (absent in checkpoints written
  // before calibration existed) and the malignant threshold chosen there for 90 % sensitivity.
  std::optional<double> temperature, malignant_threshold;
};

std::optional<double> optional_number(const weights::CheckpointInfo& info, const std::string& key,
                                      const std::string& path) {
  const auto it = info.settings.find(key);
  if (it == info.settings.end()) return std::nullopt;
  const Json value = parse_json(it->second, path + " (" + key + ")");
  BUSI_CHECK(value.is_number() && std::isfinite(value.as_number()), "checkpoint '", path, "': '",
             key, "' is not a number: ", it->second);
  return value.as_number();
}

const std::string& setting(const weights::CheckpointInfo& info, const std::string& key,
                           const std::string& path) {
  const auto it = info.settings.find(key);
  BUSI_CHECK(it != info.settings.end(), "checkpoint '", path, "': no '", key,
             "' in its metadata (not written by train_simple or finetune_vgg)");
  return it->second;
}

// The features/head split of either model.
template <typename Model>
void bind_model(LoadedModel& m, std::shared_ptr<Model> model) {
  m.last_conv = model->last_conv_name();
  m.features = [model](const Tensor& x) { return model->forward_features(x); };
  m.head = [model](const Tensor& a) { return model->forward_head(a); };
  m.module = model;
}

// Rebuilds the architecture the checkpoint describes and loads its weights onto `device`.
LoadedModel load_model(const std::string& path, Device device) {
  const weights::CheckpointInfo info = read_checkpoint_metadata(path);
  const Json arch = checkpoint_architecture(info, path);
  const std::string where = "checkpoint '" + path + "'";
  LoadedModel m;
  m.name = info.model_name;
  m.img_size = parse_json(setting(info, "img_size", path), path).as_int();
  m.normalization = normalization_from_json(
      parse_json(setting(info, "normalization", path), path + " (normalization)"));
  const Json class_names = parse_json(setting(info, "class_names", path), path + " (classes)");
  for (const Json& name : class_names.elements()) m.class_names.push_back(name.as_string());
  m.temperature = optional_number(info, kTemperatureKey, path);
  BUSI_CHECK(!m.temperature || *m.temperature > 0, "checkpoint '", path,
             "': the temperature must be positive, got ", *m.temperature);
  m.malignant_threshold = optional_number(info, kMalignantThresholdKey, path);
  if (m.name == models::SimpleCNN::kModelName) {
    const models::SimpleCNNConfig config = simple_cnn_config(arch, where);
    m.channels = config.in_channels;
    bind_model(m, std::make_shared<models::SimpleCNN>(config));
  } else if (m.name == models::VGG16::kModelName) {
    m.channels = 3;
    bind_model(m, std::make_shared<models::VGG16>(vgg16_config(arch, where)));
  } else {
    throw Error("checkpoint '" + path + "': unknown model '" + m.name + "'");
  }
  load_checkpoint(path, *m.module, m.name);
  m.module->to(device);
  m.module->eval();
  m.module->set_requires_grad(false);  // Grad-CAM needs gradients of activations only
  return m;
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

// The network input (1, C, S, S) for one file: decoded, resized and normalised exactly as the
// trainers' evaluation path does it (image cache resize, then the checkpoint's normalisation).
Tensor prepare_input(const LoadedModel& m, const data::Image& decoded, Device device) {
  const data::Image resized = data::resize_image(decoded, m.img_size, m.img_size);
  Tensor x = Tensor::empty({1, m.channels, m.img_size, m.img_size});
  m.normalization.apply(resized, x.data());
  return x.to(device);
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

// How a prediction is read off the logits: softmax(z / T) (T = 1 for the raw probabilities),
// and either the argmax or, with a malignant threshold, "malignant" whenever its probability
// reaches the threshold (the argmax of the others otherwise).
struct DecisionRule {
  double temperature = 1.0;
  std::optional<double> malignant_threshold;
  int64_t malignant = -1;  // the class index of "malignant"
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
// heat map explains the class the rule chose.
Prediction predict_one(const LoadedModel& m, const DecisionRule& rule, const std::string& path,
                       Device device, const std::string& gradcam_file) {
  const data::Image decoded = data::decode_image_file(path, m.channels);
  const Tensor x = prepare_input(m, decoded, device);
  Prediction p;
  p.path = path;
  Tensor features;
  {
    NoGradGuard no_grad;
    features = m.features(x);
    p.probs = softmax_with_temperature({m.head(features).to_vector()}, rule.temperature)[0];
  }
  decide(rule, p);
  if (!gradcam_file.empty()) {
    const HeatMap cam = grad_cam(features, m.head, p.predicted);
    const HeatMap full = resize_heat_map(cam, decoded.height, decoded.width);
    write_png(gradcam_file, overlay_heat_map(decoded, full));
  }
  return p;
}

// The rule from the flags and the checkpoint; prints (unless CSV) what the probabilities are.
DecisionRule decision_rule(const LoadedModel& m, const std::string& checkpoint,
                           const std::string& probabilities, const std::string& threshold_flag,
                           bool quiet) {
  DecisionRule rule;
  if (probabilities == "calibrated") {
    if (m.temperature) {
      rule.temperature = *m.temperature;
      if (!quiet)
        std::printf(
            "probabilities calibrated: softmax(logits / %.3f), the temperature fitted on "
            "the run's validation subset (--probabilities raw: the network's own)\n",
            rule.temperature);
    } else {
      std::cerr << "predict: note: " << checkpoint
                << " has no temperature (written before calibration existed): the "
                   "probabilities are the network's own, uncalibrated\n";
    }
  } else if (!quiet) {
    std::printf("probabilities raw: the network's softmax, not calibrated\n");
  }
  if (threshold_flag == "off") return rule;
  const auto found = std::find(m.class_names.begin(), m.class_names.end(), kMalignantClass);
  BUSI_CHECK(found != m.class_names.end(),
             "--malignant-threshold: the checkpoint's classes have "
             "no 'malignant'");
  rule.malignant = found - m.class_names.begin();
  if (threshold_flag == "validation") {
    BUSI_CHECK(m.malignant_threshold, "--malignant-threshold validation: ", checkpoint,
               " holds no threshold (written before calibration existed); give a number");
    rule.malignant_threshold = m.malignant_threshold;
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
    std::printf("malignant when its probability is >= %.3f%s\n", *rule.malignant_threshold,
                threshold_flag == "validation"
                    ? " (chosen on the run's validation subset for 90 % sensitivity)"
                    : "");
  return rule;
}

int run(int argc, char** argv) {
  std::string checkpoint, gradcam_dir, device_flag = "auto";
  std::string probabilities = "calibrated", threshold_flag = "off";
  bool csv = false, skip_bad = false;
  float max_megapixels = 64.0f;
  std::vector<std::string> inputs;
  CommandLine cli("predict",
                  "Classifies ultrasound images with a checkpoint written by train_simple or "
                  "finetune_vgg; prints each image's class and the probability of every class.");
  cli.add("--checkpoint", &checkpoint, "PATH", "best.safetensors or last.safetensors of a run");
  cli.add_switch("--csv", &csv, "CSV output: path,pred,prob_<class>... with a header");
  cli.add_choice("--probabilities", &probabilities, {"calibrated", "raw"},
                 "calibrated: softmax(logits / T) with the temperature T fitted on the run's "
                 "validation subset (stored in the checkpoint); raw: the network's softmax");
  cli.add("--malignant-threshold", &threshold_flag, "off|validation|P",
          "call an image malignant when its probability is >= P (validation: the threshold "
          "the run chose on its validation subset for 90 % sensitivity); off: the most "
          "probable class");
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
  const LoadedModel m = load_model(checkpoint, device);
  const DecisionRule rule = decision_rule(m, checkpoint, probabilities, threshold_flag, csv);
  const std::vector<std::string> files = collect_images(inputs);
  if (!gradcam_dir.empty()) {
    std::error_code ec;
    fs::create_directories(gradcam_dir, ec);
    BUSI_CHECK(!ec, "--gradcam '", gradcam_dir, "': cannot create the folder (", ec.message(), ")");
    if (!csv)
      std::cout << "Grad-CAM of " << m.last_conv << " for the predicted class, in " << gradcam_dir
                << "/\n";
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
      p = predict_one(m, rule, file, device, cam_file);
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
