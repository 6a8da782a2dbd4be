// Synthetic run folders for the report tests: 30 test images named like BUSI's, written by the
// run-folder contract (config.json, split.csv, history.csv, predictions.csv, metrics.json) with
// the errors a test chooses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/metrics/classification.h"

namespace busi::tools::synthetic {

namespace fs = std::filesystem;

inline const std::vector<std::string> kClasses = {"benign", "malignant", "normal"};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline fs::path fresh_folder(const std::string& name) {
  const fs::path dir = fs::path(BUSI_BINARY_DIR) / "test_report_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The synthetic test set: 30 images, 10 per class, with names like the real ones.
struct TestImage {
  std::string path;
  int64_t label;
};
inline std::vector<TestImage> test_images() {
  std::vector<TestImage> images;
  for (int i = 0; i < 30; ++i) {
    const int64_t label = i % 3;
    images.push_back({kClasses[static_cast<size_t>(label)] + "/" +
                          kClasses[static_cast<size_t>(label)] + " (" + std::to_string(i) + ").png",
                      label});
  }
  return images;
}

// Writes a run folder following the contract. The model is wrong on the images for which
// `wrong(i)` holds (predicting the next class); `names` writes label/pred as class names
// instead of indices, `reversed` writes the test rows in reverse order. `tested(i)`, when given,
// picks the test images (a fold's); the others are training images in split.csv.
inline void write_run_folder(const fs::path& dir, const std::string& model, bool (*wrong)(int),
                             bool names, bool reversed, bool (*tested)(int) = nullptr) {
  const auto is_tested = [tested](int i) { return tested == nullptr || tested(i); };
  const std::vector<TestImage> images = test_images();
  Json config = Json::object();
  config["model"] = model;
  config["seed"] = 42;
  config["device"] = "cpu";
  config["git_commit"] = "0123456789abcdef0123456789abcdef01234567";
  config["img_size"] = 64;
  config["epochs"] = model == "vgg16" ? 4 : 3;
  config["lr"] = model == "vgg16" ? 1e-4f : 1e-3f;
  if (model == "vgg16") {
    config["imagenet_layers_loaded"] = 5;
    config["imagenet_layers_total"] = 13;
    config["weights_file"] = "weights/vgg16 imagenet.safetensors";
  }
  write_text_file((dir / "config.json").string(), config.dump());

  std::vector<std::vector<std::string>> split;
  for (int i = 0; i < 12; ++i)
    split.push_back({"benign/benign (" + std::to_string(100 + i) + ").png", "benign", "train"});
  for (size_t i = 0; i < images.size(); ++i)
    split.push_back({images[i].path, kClasses[static_cast<size_t>(images[i].label)],
                     is_tested(static_cast<int>(i)) ? "test" : "train"});
  write_csv((dir / "split.csv").string(), {"path", "class", "subset"}, split);

  CsvWriter history((dir / "history.csv").string(),
                    {"epoch", "phase", "train_loss", "train_acc", "val_loss", "val_acc",
                     "val_macro_f1", "lr", "seconds", "img_per_s"});
  const int epochs = model == "vgg16" ? 4 : 3;
  for (int e = 1; e <= epochs; ++e) {
    const std::string phase = model == "vgg16" ? (e <= 2 ? "head" : "finetune") : "train";
    history.write_row({e, phase, 1.2 / e, 0.5 + 0.1 * e, 1.3 / e, 0.45 + 0.1 * e, 0.4 + 0.1 * e,
                       1e-3, 2.5, 120.0});
  }
  history.commit();

  std::vector<std::string> header = {"path", "label", "pred"};
  for (const auto& c : kClasses) header.push_back("prob_" + c);
  CsvWriter predictions((dir / "predictions.csv").string(), header);
  std::vector<int64_t> labels;
  std::vector<std::vector<float>> probs;
  for (int n = 0; n < 30; ++n) {
    const int i = reversed ? 29 - n : n;
    if (!is_tested(i)) continue;
    const int64_t label = images[static_cast<size_t>(i)].label;
    const int64_t pred = wrong(i) ? (label + 1) % 3 : label;
    std::vector<float> p(3, 0.1f + 0.01f * static_cast<float>(i % 4));
    p[static_cast<size_t>(pred)] = 0.8f - 0.02f * static_cast<float>(i % 4);
    labels.push_back(label);
    probs.push_back(p);
    const auto cls = [&](int64_t k) {
      return names ? CsvField(kClasses[static_cast<size_t>(k)]) : CsvField(k);
    };
    predictions.write_row(
        {images[static_cast<size_t>(i)].path, cls(label), cls(pred), p[0], p[1], p[2]});
  }
  predictions.commit();

  const ClassificationMetrics m = compute_metrics(labels, probs, kClasses, 100, 1);
  Json summary = Json::object();
  summary["model"] = model;
  summary["test"] = metrics_to_json_value(m);
  summary["parameters"] = model == "vgg16" ? 14716227 : 421123;
  summary["trainable_parameters"] = model == "vgg16" ? 7081475 : 421123;
  summary["training_seconds"] = model == "vgg16" ? 754.2 : 61.0;
  summary["mean_img_per_s"] = model == "vgg16" ? 85.5 : 512.25;
  summary["test_images"] = static_cast<int64_t>(labels.size());
  summary["device"] = "cpu";
  write_text_file((dir / "metrics.json").string(), summary.dump());
}

// SimpleCNN is wrong on 6 images (i % 5 == 0), VGG16 on 3 (i % 10 == 3): no overlap, so
// b (SimpleCNN right, VGG16 wrong) = 3 and c (SimpleCNN wrong, VGG16 right) = 6.
inline bool simple_wrong(int i) { return i % 5 == 0; }
inline bool vgg_wrong(int i) { return i % 10 == 3; }

}  // namespace busi::tools::synthetic
