// One image through a classifier (see predict_image.h).
#include "tools/predict/predict_image.h"

#include "data/image_warnings.h"
#include "engine/autograd.h"
#include "tools/explain/gradcam.h"
#include "tools/train/ensemble.h"

namespace busi::tools {

InputImage decode_input(const Classifier& c, const std::vector<uint8_t>& bytes,
                        const std::string& name) {
  InputImage input;
  input.decoded = data::decode_image(bytes, c.first().channels, name);
  // A grey model sees the decoder's grey mix, which hides colour: the colour check needs the
  // file's own channels, decoded once more when it stores colour (ultrasound files usually
  // store grey as RGB, so this costs a second decode of a small image).
  if (input.decoded.channels == 1 && data::read_image_info(bytes, name).channels >= 3)
    input.warnings = data::input_warnings(data::decode_image(bytes, 3, name));
  else
    input.warnings = data::input_warnings(input.decoded);
  return input;
}

Prediction classify(const Classifier& c, const DecisionRule& rule, const data::Image& decoded,
                    Device device) {
  Prediction p;
  p.probs.assign(c.first().class_names.size(), 0.0);
  for (const LoadedModel& m : c.members) {
    const std::vector<double> q = member_probabilities(m, decoded, device, rule.flip);
    for (size_t k = 0; k < q.size(); ++k)
      p.probs[k] += q[k] / static_cast<double>(c.members.size());
  }
  const Decision d = decide(rule, p.probs);
  p.predicted = d.predicted;
  p.flagged = d.flagged;
  return p;
}

data::Image gradcam_overlay(const Classifier& c, const data::Image& decoded, int64_t target,
                            Device device) {
  HeatMap mean;
  for (const LoadedModel& m : c.members) {
    Tensor features;
    {
      NoGradGuard no_grad;
      features = m.features(prepare_input(m, decoded, device));
    }
    const HeatMap map =
        resize_heat_map(grad_cam(features, m.head, target), decoded.height, decoded.width);
    if (mean.values.empty())
      mean = HeatMap{map.height, map.width, std::vector<float>(map.values.size(), 0.0f)};
    for (size_t i = 0; i < map.values.size(); ++i)
      mean.values[i] += map.values[i] / static_cast<float>(c.members.size());
  }
  return overlay_heat_map(decoded, mean);
}

Prediction predict_file(const Classifier& c, const DecisionRule& rule, const std::string& path,
                        Device device, const std::string& gradcam_file) {
  const InputImage input = decode_input(c, data::read_file_bytes(path), path);
  Prediction p = classify(c, rule, input.decoded, device);
  p.path = path;
  p.warnings = input.warnings;
  if (!gradcam_file.empty())
    write_png(gradcam_file, gradcam_overlay(c, input.decoded, p.predicted, device));
  return p;
}

}  // namespace busi::tools
