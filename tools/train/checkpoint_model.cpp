// Loading a trained network from its checkpoint (see checkpoint_model.h).
#include "tools/train/checkpoint_model.h"

#include <cmath>

#include "kernels/common/error.h"
#include "models/simple_cnn.h"
#include "models/vgg16.h"
#include "tools/formats/json_value.h"
#include "tools/train/architecture.h"
#include "tools/train/calibration_scoring.h"
#include "tools/train/run_checkpoint.h"
#include "tools/train/run_config.h"

namespace busi::tools {

namespace {

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

}  // namespace

LoadedModel load_model(const std::string& path, Device device) {
  const weights::CheckpointInfo info = read_checkpoint_metadata(path);
  const Json arch = checkpoint_architecture(info, path);
  const std::string where = "checkpoint '" + path + "'";
  LoadedModel m;
  m.path = path;
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
  const auto flip = info.settings.find(kTestTimeFlipKey);
  m.calibrated_with_flip = flip != info.settings.end() && flip->second == "true";
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

Tensor prepare_input(const LoadedModel& m, const data::Image& decoded, Device device, bool flip) {
  data::Image resized = data::resize_image(decoded, m.img_size, m.img_size);
  if (flip) data::mirror_image(resized);
  Tensor x = Tensor::empty({1, m.channels, m.img_size, m.img_size});
  m.normalization.apply(resized, x.data());
  return x.to(device);
}

}  // namespace busi::tools
