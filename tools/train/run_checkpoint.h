// A training run's checkpoint: the model's weights, the optimiser state, the loop's state (where
// the run stands: epoch, phase, best score, patience), every random generator and the settings
// predict and --resume need, in the engine's checkpoint format (weights/checkpoint.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "weights/checkpoint.h"

namespace busi::tools {

// The loop's own state, saved in each checkpoint's metadata so that --resume continues exactly.
struct LoopState {
  int64_t epoch = 0;                         // epochs finished, across phases
  std::string phase;                         // the phase the last finished epoch belonged to
  int64_t phase_epoch = 0;                   // epochs of that phase finished
  int64_t phase_planned_epochs = 0;          // the epochs that phase was planned with
  std::vector<std::string> finished_phases;  // phases that ended (all epochs, or early stop)
  int64_t optimizer_steps = 0;               // the phase optimiser's steps (its schedule position)
  double best_val_macro_f1 = -1.0;
  int64_t best_epoch = 0;
  int64_t epochs_since_best = 0;
  int64_t images_trained = 0;  // training images seen, all epochs together
};

// Random-number state of a model (every dropout layer's generator, by its dotted name) and of the
// engine's default generator ("default"), and back.
std::map<std::string, weights::RngState> rng_state(nn::Module& model);
void set_rng_state(nn::Module& model, const std::map<std::string, weights::RngState>& state);

// The engine's checkpoint format (weights/checkpoint.h): tensors "model.<name>" and
// "optim.<name>", and text metadata: model name, epoch, optimiser steps, every random generator
// (the engine's default one and each dropout layer's), and "settings.<key>" entries, where the
// trainers keep "loop" (LoopState as JSON) and what predict and --resume need: "flags" (every
// flag's value), "class_names", "img_size", "architecture", "normalization" (all JSON).
// Written atomically (a temporary file renamed over the old one).

struct CheckpointContents {
  std::string model_name;
  std::map<std::string, std::string> metadata;  // stored as settings.<key>
  LoopState loop;
  std::map<std::string, weights::RngState> rng;
  StateDict optimizer_state;
};
void write_checkpoint(const std::string& path, const nn::Module& model,
                      const CheckpointContents& contents);

// The checkpoint's metadata (its settings.<key> entries, keys without the prefix) and model
// name, without reading any tensor. Throws busi::Error naming the file when it is missing or not
// a checkpoint.
weights::CheckpointInfo read_checkpoint_metadata(const std::string& path);

// Loads the weights into `model` (wherever its tensors live) and returns the rest. Throws
// busi::Error when the checkpoint was written for another model than `expected_model` (e.g. a
// VGG16 checkpoint given to train_simple), or lacks one of the model's tensors.
struct RunCheckpoint {
  weights::CheckpointInfo info;
  LoopState loop;
  StateDict optimizer_state;
};
RunCheckpoint load_checkpoint(const std::string& path, nn::Module& model,
                              const std::string& expected_model);

// Writes a loaded checkpoint back (atomically) with the model's weights and the checkpoint's own
// metadata and optimiser state, e.g. after adding settings to checkpoint.info.settings.
void rewrite_checkpoint(const std::string& path, const nn::Module& model,
                        const RunCheckpoint& checkpoint);

}  // namespace busi::tools
