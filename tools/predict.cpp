// predict: classifies ultrasound images with a checkpoint of train_simple or finetune_vgg (the
// model, image size, normalisation and class names come from the checkpoint), prints the class
// and the probabilities per image (or CSV), and optionally writes Grad-CAM heat maps as PNG.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
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
};

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
  const Json arch = parse_json(setting(info, "architecture", path), path + " (architecture)");
  LoadedModel m;
  m.name = info.model_name;
  m.img_size = parse_json(setting(info, "img_size", path), path).as_int();
  m.normalization = normalization_from_json(
      parse_json(setting(info, "normalization", path), path + " (normalization)"));
  const Json class_names = parse_json(setting(info, "class_names", path), path + " (classes)");
  for (const Json& name : class_names.elements()) m.class_names.push_back(name.as_string());
  if (m.name == models::SimpleCNN::kModelName) {
    models::SimpleCNNConfig config;
    config.in_channels = arch.at("in_channels").as_int();
    config.num_classes = arch.at("num_classes").as_int();
    config.width = arch.at("width").as_int();
    config.blocks = arch.at("blocks").as_int();
    config.dropout = static_cast<float>(arch.at("dropout").as_number());
    m.channels = config.in_channels;
    bind_model(m, std::make_shared<models::SimpleCNN>(config));
  } else if (m.name == models::VGG16::kModelName) {
    models::VGG16Config config;
    config.num_classes = arch.at("num_classes").as_int();
    config.dropout = static_cast<float>(arch.at("dropout").as_number());
    m.channels = 3;
    bind_model(m, std::make_shared<models::VGG16>(config));
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

struct Prediction {
  std::string path;
  int64_t predicted = 0;
  std::vector<float> probs;
};

void print_text(const LoadedModel& m, const Prediction& p) {
  std::printf("%s: %s  (", p.path.c_str(), m.class_names.at(p.predicted).c_str());
  for (size_t c = 0; c < p.probs.size(); ++c)
    std::printf("%s%s %.3f", c == 0 ? "" : ", ", m.class_names[c].c_str(), p.probs[c]);
  std::printf(")\n");
}

void print_csv_row(const Prediction& p, const LoadedModel& m) {
  std::cout << csv_escape(p.path) << ',' << csv_escape(m.class_names.at(p.predicted));
  for (float prob : p.probs) std::cout << ',' << CsvField(prob).text;
  std::cout << '\n';
}

// Classifies one image, and writes its Grad-CAM overlay when gradcam_file is not empty.
Prediction predict_one(const LoadedModel& m, const std::string& path, Device device,
                       const std::string& gradcam_file) {
  const data::Image decoded = data::decode_image_file(path, m.channels);
  const Tensor x = prepare_input(m, decoded, device);
  Prediction p;
  p.path = path;
  Tensor features;
  {
    NoGradGuard no_grad;
    features = m.features(x);
    p.probs = softmax(m.head(features)).to_vector();
  }
  p.predicted = std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin();
  if (!gradcam_file.empty()) {
    const HeatMap cam = grad_cam(features, m.head, p.predicted);
    const HeatMap full = resize_heat_map(cam, decoded.height, decoded.width);
    write_png(gradcam_file, overlay_heat_map(decoded, full));
  }
  return p;
}

int run(int argc, char** argv) {
  std::string checkpoint, gradcam_dir, device_flag = "auto";
  bool csv = false, skip_bad = false;
  float max_megapixels = 64.0f;
  std::vector<std::string> inputs;
  CommandLine cli("predict",
                  "Classifies ultrasound images with a checkpoint written by train_simple or "
                  "finetune_vgg; prints each image's class and the probability of every class.");
  cli.add("--checkpoint", &checkpoint, "PATH", "best.safetensors or last.safetensors of a run");
  cli.add_switch("--csv", &csv, "CSV output: path,pred,prob_<class>... with a header");
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
      p = predict_one(m, file, device, cam_file);
    } catch (const Error& e) {
      if (!skip_bad) throw;
      std::cerr << "predict: warning: skipped " << e.what() << "\n";
      ++skipped;
      continue;
    }
    if (csv)
      print_csv_row(p, m);
    else
      print_text(m, p);
  }
  if (skipped > 0)
    std::cerr << "predict: " << skipped << " of " << files.size() << " images skipped\n";
  return skipped > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("predict", run, argc, argv); }
