// Checkpoints of a training run (see run_checkpoint.h): the loop state as JSON metadata, the
// random generators, writing and loading.
#include "tools/train/run_checkpoint.h"

#include <filesystem>

#include "kernels/common/error.h"
#include "engine/random.h"
#include "tools/formats/json_value.h"

namespace busi::tools {

namespace {

// Every dropout layer of a module tree with its dotted name.
void collect_dropouts(nn::Module& module, const std::string& prefix,
                      std::vector<std::pair<std::string, nn::Dropout*>>& out) {
  for (const auto& [name, child] : module.children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (auto* dropout = dynamic_cast<nn::Dropout*>(child.get())) out.emplace_back(path, dropout);
    collect_dropouts(*child, path, out);
  }
}

constexpr const char* kLoopKey = "loop";

Json loop_to_json(const LoopState& loop) {
  Json j = Json::object();
  j["epoch"] = loop.epoch;
  j["phase"] = loop.phase;
  j["phase_epoch"] = loop.phase_epoch;
  j["phase_planned_epochs"] = loop.phase_planned_epochs;
  j["finished_phases"] = loop.finished_phases;
  j["optimizer_steps"] = loop.optimizer_steps;
  j["best_val_macro_f1"] = loop.best_val_macro_f1;
  j["best_epoch"] = loop.best_epoch;
  j["epochs_since_best"] = loop.epochs_since_best;
  j["images_trained"] = loop.images_trained;
  return j;
}

LoopState loop_from_json(const Json& j) {
  LoopState loop;
  loop.epoch = j.at("epoch").as_int();
  loop.phase = j.at("phase").as_string();
  loop.phase_epoch = j.at("phase_epoch").as_int();
  // Checkpoints written before the field existed: the epochs run are the best guess.
  loop.phase_planned_epochs =
      j.contains("phase_planned_epochs") ? j.at("phase_planned_epochs").as_int() : loop.phase_epoch;
  for (const Json& name : j.at("finished_phases").elements())
    loop.finished_phases.push_back(name.as_string());
  loop.optimizer_steps = j.at("optimizer_steps").as_int();
  loop.best_val_macro_f1 = j.at("best_val_macro_f1").as_number();
  loop.best_epoch = j.at("best_epoch").as_int();
  loop.epochs_since_best = j.at("epochs_since_best").as_int();
  loop.images_trained = j.contains("images_trained") ? j.at("images_trained").as_int() : 0;
  return loop;
}

}  // namespace

std::map<std::string, weights::RngState> rng_state(nn::Module& model) {
  std::map<std::string, weights::RngState> state;
  state["default"] = weights::rng_state_of(default_generator());
  std::vector<std::pair<std::string, nn::Dropout*>> dropouts;
  collect_dropouts(model, "", dropouts);
  for (const auto& [name, dropout] : dropouts) state[name] = weights::rng_state_of(dropout->gen);
  return state;
}

void set_rng_state(nn::Module& model, const std::map<std::string, weights::RngState>& state) {
  if (const auto it = state.find("default"); it != state.end())
    weights::restore_rng_state(default_generator(), it->second);
  std::vector<std::pair<std::string, nn::Dropout*>> dropouts;
  collect_dropouts(model, "", dropouts);
  for (const auto& [name, dropout] : dropouts)
    if (const auto it = state.find(name); it != state.end())
      weights::restore_rng_state(dropout->gen, it->second);
}

void write_checkpoint(const std::string& path, const nn::Module& model,
                      const CheckpointContents& contents) {
  weights::CheckpointInfo info;
  info.model_name = contents.model_name;
  info.epoch = contents.loop.epoch;
  info.optimizer_steps = contents.loop.optimizer_steps;
  info.rng = contents.rng;
  info.settings = contents.metadata;
  info.settings[kLoopKey] = loop_to_json(contents.loop).dump(0);
  weights::save_checkpoint(path, info, model.state_dict(), contents.optimizer_state);
}

weights::CheckpointInfo read_checkpoint_metadata(const std::string& path) {
  BUSI_CHECK(std::filesystem::exists(path), "checkpoint '", path, "': file missing");
  return weights::read_checkpoint_info(path);
}

RunCheckpoint load_checkpoint(const std::string& path, nn::Module& model,
                              const std::string& expected_model) {
  BUSI_CHECK(std::filesystem::exists(path), "checkpoint '", path, "': file missing");
  weights::LoadedCheckpoint loaded =
      weights::load_checkpoint(path, expected_model, model.state_dict());
  RunCheckpoint out;
  out.info = std::move(loaded.info);
  out.optimizer_state = std::move(loaded.optimizer);
  const auto loop = out.info.settings.find(kLoopKey);
  BUSI_CHECK(loop != out.info.settings.end(), "checkpoint '", path,
             "': no training-loop state (not written by train_simple or finetune_vgg)");
  out.loop = loop_from_json(parse_json(loop->second, path + " (loop state)"));
  return out;
}

void rewrite_checkpoint(const std::string& path, const nn::Module& model,
                        const RunCheckpoint& checkpoint) {
  weights::save_checkpoint(path, checkpoint.info, model.state_dict(), checkpoint.optimizer_state);
}

}  // namespace busi::tools
