// One image through a classifier: decoded by the engine's bounded decoder, checked for inputs far
// from the training images (data/image_warnings.h), its probabilities averaged over the members,
// the decision rule applied, and on request the Grad-CAM overlay. Shared by predict and serve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/device.h"
#include "tools/predict/classifier.h"
#include "tools/predict/decision.h"

namespace busi::tools {

// An encoded image decoded as the classifier's members take it, with the input warnings.
struct InputImage {
  data::Image decoded;                // the members' channel count (1 or 3)
  std::vector<std::string> warnings;  // tiny, elongated, in colour
};

// Decodes PNG/JPEG bytes (data::decode_image: the pixel limit and memory budget of data/image.h
// apply). Throws busi::Error naming `name` for bytes that are not a decodable image.
InputImage decode_input(const Classifier& c, const std::vector<uint8_t>& bytes,
                        const std::string& name);

struct Prediction {
  std::string path;
  int64_t predicted = 0;
  std::vector<double> probs;
  bool flagged = false;  // malignant by the threshold
  std::vector<std::string> warnings;
};

// The members' probabilities of the decoded image averaged, and the rule's class.
Prediction classify(const Classifier& c, const DecisionRule& rule, const data::Image& decoded,
                    Device device);

// The Grad-CAM heat map of class `target` over the image (for an ensemble, the members' maps
// averaged), blended in jet colours over the decoded image at its own size.
data::Image gradcam_overlay(const Classifier& c, const data::Image& decoded, int64_t target,
                            Device device);

// predict's unit of work: reads and decodes the file, classifies it, and writes its Grad-CAM
// overlay as PNG when gradcam_file is not empty (the heat map of the class the rule chose).
Prediction predict_file(const Classifier& c, const DecisionRule& rule, const std::string& path,
                        Device device, const std::string& gradcam_file);

}  // namespace busi::tools
