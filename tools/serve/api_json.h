// The JSON documents of serve's API: the model's description (GET /api/model: what it is, how it
// decides, where it came from) and one prediction (POST /api/predict), and error bodies. Written
// with the project's Json writer (tools/formats/json_value.h).
#pragma once

#include <string>

#include "tools/formats/json_value.h"
#include "tools/predict/classifier.h"
#include "tools/predict/decision.h"
#include "tools/predict/predict_image.h"

namespace busi::tools {

// Classes, input size, calibration, the operating point (threshold and how it was chosen), and
// provenance from the checkpoint's metadata and its run's config.json when beside it: the data
// folder, the split, the seed, the training commit, the ImageNet layers a VGG16 started from.
Json model_json(const Classifier& c, const DecisionRule& rule);

// {probabilities: {class: p}, decision, malignant_flag (null without a threshold), threshold,
// warnings: [...], image: {width, height}}; the caller adds "model" and "gradcam".
Json prediction_json(const Classifier& c, const DecisionRule& rule, const Prediction& p,
                     const data::Image& decoded);

// {"error": message}.
std::string error_json(const std::string& message);

}  // namespace busi::tools
