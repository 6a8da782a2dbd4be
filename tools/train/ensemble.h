// The fold models of a cross-validated comparison as one classifier for new images: for each
// image, the calibrated probabilities of one architecture's K fold models averaged (each model
// was trained on a different 4/5 of the data and calibrated on its own validation images), with
// the image's left-right mirror averaged in on request (test-time augmentation). predict uses it
// when given a compare folder; compare uses it to score --external folders.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/device.h"
#include "tools/train/checkpoint_model.h"

namespace busi::tools {

struct Ensemble {
  std::string compare_dir, model;    // "simple_cnn", "vgg16", "vgg16_random"
  std::vector<LoadedModel> members;  // the first repeat's folds, in fold order
  std::vector<std::string> class_names;
  // The mean of the members' malignant thresholds (each chosen on its fold's validation images
  // for 90 % sensitivity of that model's probabilities); absent when a member has none.
  std::optional<double> malignant_threshold;
};

// The model folders of a compare folder's plan ("simple_cnn", "vgg16", ...).
std::vector<std::string> compare_models(const std::string& compare_dir);

// Loads `model`'s fold models (best.safetensors of repeat 1's folds). Throws busi::Error naming
// what is missing: the plan, a fold's checkpoint (a comparison not finished), a model the plan
// does not have, members whose classes or input sizes differ.
Ensemble load_ensemble(const std::string& compare_dir, const std::string& model, Device device);

// One model's calibrated probabilities of a decoded image: softmax(z / T) with the model's own
// temperature (1 when it has none), averaged with its mirror's when `flip`.
std::vector<double> member_probabilities(const LoadedModel& m, const data::Image& decoded,
                                         Device device, bool flip);

// The ensemble's probabilities: the mean over its members of member_probabilities.
std::vector<double> ensemble_probabilities(const Ensemble& e, const data::Image& decoded,
                                           Device device, bool flip);

}  // namespace busi::tools
