// The training loop both trainers share: phases of epochs over batches (forward, loss, backward,
// optimiser step, learning-rate schedule per step), validation each epoch, early stopping on the
// validation macro-F1, history.csv, best/last checkpoints, resuming, and the final test
// evaluation of the best checkpoint (predictions.csv, metrics.json).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/weight_average.h"
#include "tools/formats/json_value.h"
#include "tools/metrics/classification.h"
#include "tools/run_folder/history.h"
#include "tools/train/batch_source.h"
#include "tools/train/evaluate.h"
#include "tools/train/run_checkpoint.h"

namespace busi::tools {

// A stretch of training with its own optimiser, schedule and data: "train" for SimpleCNN,
// "head" then "finetune" for VGG16.
struct Phase {
  std::string name;
  int64_t epochs = 0;
  Forward forward;  // the source's inputs -> logits
  BatchSource* train = nullptr;
  BatchSource* val = nullptr;
  optim::Optimizer* optimizer = nullptr;
  const optim::Schedule* schedule = nullptr;  // factor of the base rates, per optimiser step
  std::vector<float> class_weights;           // empty: unweighted loss
  // Called before each validation (may be empty): recomputes running statistics, such as
  // VGG16's centred head's mean, from the training images. It must draw no random numbers.
  std::function<void()> refresh_statistics;
  float label_smoothing = 0.0f;
};

// The validation and test images mirrored left to right, in the same order as the plain
// sources: with them evaluate_test averages each image's probabilities with its mirror's
// (test-time flip, evaluate.h average_with_mirror).
struct MirroredSources {
  BatchSource* val = nullptr;
  BatchSource* test = nullptr;
};

struct TrainerOptions {
  std::string run_dir;
  std::string model_name;  // "simple_cnn" / "vgg16", stored in checkpoints
  std::vector<std::string> class_names;
  Device device = Device::cpu();
  int64_t patience = 0;          // epochs without a better val macro-F1; 0 = never stop
  int64_t stop_after_epoch = 0;  // end the run after this epoch (0 = off), resumable
  // Decay of the exponential moving average of the weights (engine/weight_average.h), 0 = off.
  // When on, validation, the best checkpoint and the test use the averaged weights; training
  // goes on from the trained ones, and last.safetensors holds both.
  float weight_average_decay = 0.0f;
  bool live_progress = false;  // the per-batch bar (on a terminal)
  // Stored in every checkpoint beside the weights: architecture, image size, normalisation,
  // class names, settings... everything predict and --resume need to rebuild the run.
  std::map<std::string, std::string> checkpoint_metadata;
};

class Trainer {
 public:
  Trainer(nn::Module& model, TrainerOptions options);

  // Continues the run saved in `checkpoint_path`: loads the weights and loop state now, the
  // optimiser state when its phase starts, and keeps history.csv's rows up to that epoch.
  // Throws busi::Error when the checkpoint belongs to another model.
  void resume(const std::string& checkpoint_path);

  // Runs the phase's epochs (what is left of them when resuming). Returns false when the run
  // must end now (--stop-after reached); early stopping only ends the phase.
  bool run_phase(Phase& phase);

  // True when the resumed checkpoint had already finished this phase of `epochs` epochs (the
  // tool can skip building it, e.g. computing its feature cache). A finished last phase given
  // more epochs than it ran is not done: the run is extended.
  bool phase_already_done(const std::string& phase, int64_t epochs) const;

  // After training: loads best.safetensors (or keeps the current weights if there is none),
  // evaluates `val` and `test` through `forward`, fits the temperature on the validation logits
  // (calibration_scoring.h) and stores it, with the malignant threshold, in best.safetensors, writes
  // predictions.csv and metrics.json (`extra` is merged into metrics.json) and returns the test
  // metrics (of the raw probabilities: the temperature never changes the predicted class).
  // With `mirrored`, every figure, the temperature and the threshold are those of the
  // flip-averaged probabilities, and metrics.json says "test_time_flip": true.
  ClassificationMetrics evaluate_test(const Forward& forward, BatchSource& val, BatchSource& test,
                                      const data::DatasetIndex& index, Json extra,
                                      const MirroredSources* mirrored = nullptr);

  // Prints the history as a table, the best epoch marked.
  void print_summary() const;

  const std::vector<HistoryRow>& history() const { return history_; }
  const LoopState& state() const { return state_; }
  // Time spent outside epochs that belongs to training (computing frozen features).
  void add_setup_seconds(double seconds) { setup_seconds_ += seconds; }
  double training_seconds() const;
  // Mean over epochs of the training loop's img/s (an epoch on cached features only runs the
  // trainable layers, so it is faster than an epoch on images).
  double mean_images_per_second() const;
  // Training images over the whole training time: validation and feature caching included.
  double overall_images_per_second() const;

  std::string best_path() const { return options_.run_dir + "/best.safetensors"; }
  std::string last_path() const { return options_.run_dir + "/last.safetensors"; }

 private:
  struct EpochResult {
    double loss = 0, accuracy = 0, seconds = 0;
    int64_t images = 0;
  };
  EpochResult train_one_epoch(Phase& phase, int64_t epoch);
  // Starts (or, after resume(), continues) a phase; returns its epochs already done.
  int64_t begin_phase(Phase& phase);
  // Updates the best score and the patience count; true when this epoch is the best so far.
  bool record_validation(double val_macro_f1, int64_t epoch);
  void print_epoch(const HistoryRow& row, const Phase& phase, bool improved) const;
  void save_checkpoint(const std::string& path, const optim::Optimizer& optimizer) const;
  void append_history(const HistoryRow& row);
  void write_history() const;
  // Once, before the first phase: a fresh run removes an earlier run's outputs from its folder.
  void begin_run();
  bool should_stop_early() const;

  nn::Module& model_;
  TrainerOptions options_;
  LoopState state_;
  std::vector<HistoryRow> history_;
  // From a resumed checkpoint: the optimiser state to load when its phase starts.
  StateDict pending_optimizer_state_;
  std::string pending_optimizer_phase_;
  std::unique_ptr<optim::WeightAverage> weight_average_;  // null unless the option is on
  double setup_seconds_ = 0.0;
  bool resumed_ = false;      // resume() was called
  bool run_started_ = false;  // begin_run() has run
};

}  // namespace busi::tools
