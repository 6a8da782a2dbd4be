// Saving and loading checkpoints (checkpoint.h): tensors under "model." and "optim.", the rest
// as text in "__metadata__" (safetensors metadata values must be strings).
#include "weights/checkpoint.h"

#include <charconv>

#include "kernels/common/error.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"

namespace busi::weights {

RngState rng_state_of(const Generator& gen) { return {gen.seed(), gen.offset()}; }

void restore_rng_state(Generator& gen, const RngState& state) {
  gen.manual_seed(state.seed);
  gen.set_offset(state.offset);
}

namespace {

constexpr const char* kEpochKey = "epoch";
constexpr const char* kOptimizerStepsKey = "optimizer_steps";
constexpr const char* kRngPrefix = "rng.";
constexpr const char* kSettingsPrefix = "settings.";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A whole metadata value as an integer (std::from_chars: no sign for unsigned, no spaces).
template <typename Int>
Int parse_integer(const std::map<std::string, std::string>& metadata, const std::string& key,
                  const std::string& where) {
  const auto it = metadata.find(key);
  BUSI_CHECK(it != metadata.end(), where, ": metadata '", key, "' is missing");
  const std::string& text = it->second;
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  BUSI_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(), where,
             ": metadata '", key, "' = '", text, "' is not an integer");
  return value;
}

void check_is_checkpoint(const std::map<std::string, std::string>& metadata,
                         const std::string& where) {
  const auto it = metadata.find(kFormatKey);
  const std::string format = it == metadata.end() ? "" : it->second;
  if (format == kCheckpointFormat) return;
  BUSI_CHECK(format != kWeightsFormat, where,
             " is a weights file, not a checkpoint (load it with load_state_dict)");
  BUSI_CHECK(!starts_with(format, "busi-engine checkpoint"), where, " has format '", format,
             "', which this engine cannot read (it reads '", kCheckpointFormat, "')");
  throw Error(where + " is not a busi-engine checkpoint (metadata format is '" + format +
              "', expected '" + kCheckpointFormat + "')");
}

CheckpointInfo info_from_metadata(const std::map<std::string, std::string>& metadata,
                                  const std::string& where) {
  check_is_checkpoint(metadata, where);
  CheckpointInfo info;
  const auto model = metadata.find(kModelKey);
  BUSI_CHECK(model != metadata.end() && !model->second.empty(), where,
             ": metadata 'model' is missing");
  info.model_name = model->second;
  info.epoch = parse_integer<int64_t>(metadata, kEpochKey, where);
  info.optimizer_steps = parse_integer<int64_t>(metadata, kOptimizerStepsKey, where);
  for (const auto& [key, value] : metadata) {
    if (starts_with(key, kSettingsPrefix)) {
      info.settings[key.substr(std::string(kSettingsPrefix).size())] = value;
    } else if (starts_with(key, kRngPrefix)) {
      // "rng.<name>.seed" / "rng.<name>.offset": the name is between the prefix and last dot.
      const size_t start = std::string(kRngPrefix).size();
      const size_t dot = key.rfind('.');
      BUSI_CHECK(dot > start, where, ": malformed metadata key '", key, "'");
      const std::string name = key.substr(start, dot - start);
      const std::string prefix = std::string(kRngPrefix) + name;
      info.rng[name] = {parse_integer<uint64_t>(metadata, prefix + ".seed", where),
                        parse_integer<uint64_t>(metadata, prefix + ".offset", where)};
    }
  }
  return info;
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointInfo& info, const StateDict& model,
                     const StateDict& optimizer) {
  BUSI_CHECK(!info.model_name.empty(), "checkpoint '", path, "': the model name is empty");
  std::map<std::string, std::string> metadata = {
      {kFormatKey, kCheckpointFormat},
      {kModelKey, info.model_name},
      {kEpochKey, std::to_string(info.epoch)},
      {kOptimizerStepsKey, std::to_string(info.optimizer_steps)},
  };
  for (const auto& [name, state] : info.rng) {
    BUSI_CHECK(!name.empty(), "checkpoint '", path, "': a generator has an empty name");
    metadata[kRngPrefix + name + ".seed"] = std::to_string(state.seed);
    metadata[kRngPrefix + name + ".offset"] = std::to_string(state.offset);
  }
  for (const auto& [key, value] : info.settings) {
    BUSI_CHECK(!key.empty(), "checkpoint '", path, "': a setting has an empty name");
    metadata[kSettingsPrefix + key] = value;
  }

  StateDict tensors;
  for (const NamedTensor& t : model) tensors.push_back({kModelPrefix + t.name, t.tensor});
  for (const NamedTensor& t : optimizer) tensors.push_back({kOptimizerPrefix + t.name, t.tensor});
  write_safetensors(path, tensors, metadata);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  SafetensorsFile file(path);
  return info_from_metadata(file.metadata(), "checkpoint '" + path + "'");
}

LoadedCheckpoint load_checkpoint(const std::string& path, const std::string& model_name,
                                 const StateDict& model) {
  SafetensorsFile file(path);
  const std::string where = "checkpoint '" + path + "'";
  LoadedCheckpoint out;
  out.info = info_from_metadata(file.metadata(), where);
  BUSI_CHECK(out.info.model_name == model_name, where, " is for model '", out.info.model_name,
             "', not '", model_name, "'");
  // Anything besides model.* and optim.* means the file is not what this code wrote.
  for (const TensorEntry& e : file.entries())
    BUSI_CHECK(starts_with(e.name, kModelPrefix) || starts_with(e.name, kOptimizerPrefix), where,
               ": unexpected tensor '", e.name, "' (neither model. nor optim.)");
  // Every tensor must be there with its shape: a checkpoint restores the whole model.
  LoadOptions options;
  options.prefix = kModelPrefix;
  out.model = load_state_dict(file, model, options);
  out.optimizer = read_all_tensors(file, kOptimizerPrefix);
  return out;
}

}  // namespace busi::weights
