// A trained network loaded from a checkpoint of train_simple or finetune_vgg for inference: the
// model rebuilt from the architecture the checkpoint records, its weights, image size,
// normalisation, class names, and the temperature and malignant threshold its run chose on
// validation; split where Grad-CAM looks (features up to the last conv layer's ReLU, then the
// head). predict uses it, and the fold ensembles of a cross-validated comparison (ensemble.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/normalize.h"
#include "engine/device.h"
#include "engine/nn.h"

namespace busi::tools {

struct LoadedModel {
  std::string path;  // the checkpoint
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(const Tensor&)> features, head;
  std::string name, last_conv;
  int64_t channels = 1, img_size = 0;
  data::Normalization normalization;
  std::vector<std::string> class_names;
  // Temperature scaling fitted on the run's validation subset (absent in checkpoints written
  // before calibration existed) and the malignant threshold chosen there for 90 % sensitivity.
  std::optional<double> temperature, malignant_threshold;
  bool calibrated_with_flip = false;  // both fitted on image-and-mirror probabilities
};

// Rebuilds the architecture the checkpoint describes and loads its weights onto `device`, in
// evaluation mode with frozen parameters. Throws busi::Error naming the file and what is wrong.
LoadedModel load_model(const std::string& path, Device device);

// The network input (1, C, S, S) for one decoded image: resized and normalised exactly as the
// trainers' evaluation path does it (image cache resize, then the checkpoint's normalisation);
// mirrored left to right when `flip`.
Tensor prepare_input(const LoadedModel& m, const data::Image& decoded, Device device,
                     bool flip = false);

}  // namespace busi::tools
