// The architecture JSON of each model and back (architecture.h).
#include "tools/train/architecture.h"

#include "kernels/common/error.h"
#include "tools/formats/json_value.h"

namespace busi::tools {

namespace {

// architecture[key], with the file named when it is missing or not what `read` expects.
template <typename Read>
auto field(const Json& architecture, const char* key, const std::string& where, Read read) {
  const Json* value = architecture.find(key);
  BUSI_CHECK(value != nullptr, where, ": the architecture has no '", key, "'");
  try {
    return read(*value);
  } catch (const Error& e) {
    throw Error(detail::concat(where, ": the architecture's '", key, "': ", e.what()));
  }
}

const auto as_int = [](const Json& v) { return v.as_int(); };
const auto as_float = [](const Json& v) { return static_cast<float>(v.as_number()); };

}  // namespace

Json architecture_json(const models::SimpleCNNConfig& config) {
  Json a = Json::object();
  a["in_channels"] = config.in_channels;
  a["num_classes"] = config.num_classes;
  a["width"] = config.width;
  a["blocks"] = config.blocks;
  a["dropout"] = config.dropout;
  a["seed"] = static_cast<int64_t>(config.seed);
  return a;
}

Json architecture_json(const models::VGG16Config& config) {
  Json a = Json::object();
  a["num_classes"] = config.num_classes;
  a["dropout"] = config.dropout;
  a["seed"] = static_cast<int64_t>(config.seed);
  a["center_head"] = config.center_head;
  return a;
}

// The seed is not read back: it set the initial weights, which the checkpoint replaces.
models::SimpleCNNConfig simple_cnn_config(const Json& architecture, const std::string& where) {
  models::SimpleCNNConfig config;
  config.in_channels = field(architecture, "in_channels", where, as_int);
  config.num_classes = field(architecture, "num_classes", where, as_int);
  config.width = field(architecture, "width", where, as_int);
  config.blocks = field(architecture, "blocks", where, as_int);
  config.dropout = field(architecture, "dropout", where, as_float);
  return config;
}

models::VGG16Config vgg16_config(const Json& architecture, const std::string& where) {
  models::VGG16Config config;
  config.num_classes = field(architecture, "num_classes", where, as_int);
  config.dropout = field(architecture, "dropout", where, as_float);
  if (architecture.contains("center_head"))  // absent before --center-head: off
    config.center_head =
        field(architecture, "center_head", where, [](const Json& v) { return v.as_bool(); });
  return config;
}

Json checkpoint_architecture(const weights::CheckpointInfo& info, const std::string& path) {
  const auto it = info.settings.find("architecture");
  BUSI_CHECK(it != info.settings.end(), "checkpoint '", path,
             "': no 'architecture' in its metadata (not written by train_simple or finetune_vgg)");
  return parse_json(it->second, path + " (architecture)");
}

}  // namespace busi::tools
