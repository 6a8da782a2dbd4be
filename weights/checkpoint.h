// Training checkpoints: a safetensors file holding the model's parameters and buffers (names
// prefixed "model."), the optimiser's state ("optim."), and in "__metadata__" the model name,
// epoch, optimiser step count, random-generator states and the run's settings. Written
// atomically, so an interrupted save never destroys the previous checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/random.h"
#include "engine/state_dict.h"
#include "weights/state_dict_io.h"

namespace busi::weights {

// A Generator's whole state (its seed and the number of values drawn).
struct RngState {
  uint64_t seed = 0;
  uint64_t offset = 0;
  bool operator==(const RngState&) const = default;
};
RngState rng_state_of(const Generator& gen);
void restore_rng_state(Generator& gen, const RngState& state);

// Everything in a checkpoint besides the tensors.
struct CheckpointInfo {
  std::string model_name;       // "vgg16", "simple_cnn": loading checks it
  int64_t epoch = 0;            // epochs completed
  int64_t optimizer_steps = 0;  // Optimizer::step_count()
  // Named generator states: "default", "shuffle", "head_dropout", ... (stored as
  // "rng.<name>.seed" and "rng.<name>.offset").
  std::map<std::string, RngState> rng;
  // The run's settings as text ("lr" -> "0.001"); stored as "settings.<key>".
  std::map<std::string, std::string> settings;
};

// Metadata key prefixes of a checkpoint (see weights/README.md).
inline constexpr const char* kModelPrefix = "model.";
inline constexpr const char* kOptimizerPrefix = "optim.";

// Writes a checkpoint to `path` atomically (path.tmp, fsync, rename).
void save_checkpoint(const std::string& path, const CheckpointInfo& info, const StateDict& model,
                     const StateDict& optimizer);

// Reads only the metadata (cheap: the tensors are not read). Throws a clear error if `path` is
// not a checkpoint of this engine (e.g. a weights file) or its metadata is malformed.
CheckpointInfo read_checkpoint_info(const std::string& path);

struct LoadedCheckpoint {
  CheckpointInfo info;
  LoadReport model;     // every model tensor is loaded (a checkpoint is never partial)
  StateDict optimizer;  // new CPU tensors, names without "optim.": Optimizer::load_state_dict()
};

// Loads a checkpoint of model `model_name` into `model` (its state dict: parameters and
// buffers). Errors: "checkpoint X is for model 'vgg16', not 'simple_cnn'", any missing,
// unexpected or differently shaped model tensor, a file that is not a checkpoint.
LoadedCheckpoint load_checkpoint(const std::string& path, const std::string& model_name,
                                 const StateDict& model);

}  // namespace busi::weights
