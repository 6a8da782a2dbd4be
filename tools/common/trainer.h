// The training loop both trainers share: phases of epochs over batches (forward, loss, backward,
// optimiser step, learning-rate schedule per step), validation each epoch, early stopping on the
// validation macro-F1, history.csv, best/last checkpoints, resuming, and the final test
// evaluation of the best checkpoint (predictions.csv, metrics.json).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/split.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "tools/common/cli.h"
#include "tools/common/history.h"
#include "tools/common/json_writer.h"
#include "tools/common/metrics.h"
#include "weights/checkpoint.h"

namespace busi::tools {

// Network inputs (images, or features computed once by a frozen part of the network) -> logits.
using Forward = std::function<Tensor(const Tensor& inputs)>;

// One batch as the loop sees it. inputs (N, ...) on the CPU or the device; labels and sample ids
// (N,).
struct TrainBatch {
  Tensor inputs;
  std::vector<int64_t> labels;
  std::vector<int64_t> sample_ids;
};

// Where one subset's batches come from, epoch by epoch. Both kinds below give batches that depend
// only on (seed, epoch), never on timing, so a resumed run sees exactly the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(int64_t epoch) = 0;
  virtual std::optional<TrainBatch> next() = 0;  // nullopt when the epoch is over
  virtual int64_t batches_per_epoch() const = 0;
  virtual int64_t samples_per_epoch() const = 0;
};

// Batches of images from the data pipeline's loader (decoded, augmented, normalised).
class LoaderSource : public BatchSource {
 public:
  LoaderSource(const data::ImageCache& cache, std::vector<int64_t> sample_ids,
               data::LoaderOptions options);
  void start_epoch(int64_t epoch) override { loader_.start_epoch(epoch); }
  std::optional<TrainBatch> next() override;
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  int64_t samples_per_epoch() const override { return loader_.samples_per_epoch(); }

 private:
  data::BatchLoader loader_;
};

// Batches cut from rows held in memory (frozen features, computed once): the rows are reordered
// every epoch from (seed, epoch) when shuffle is on, like the image loader.
class TensorSource : public BatchSource {
 public:
  // rows: (views * N, ...), view v of sample i at row v * N + i; labels and sample_ids: N. Each
  // epoch takes every sample once, in one of its views drawn at random from (seed, epoch): how
  // augmented versions computed once (VGG16's cached features) still vary from epoch to epoch.
  TensorSource(Tensor rows, std::vector<int64_t> labels, std::vector<int64_t> sample_ids,
               int64_t batch_size, bool shuffle, uint64_t seed, int64_t views = 1);
  void start_epoch(int64_t epoch) override;
  std::optional<TrainBatch> next() override;
  int64_t batches_per_epoch() const override;
  int64_t samples_per_epoch() const override { return static_cast<int64_t>(labels_.size()); }

 private:
  Tensor rows_;  // (views * N, ...)
  std::vector<int64_t> labels_, sample_ids_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t views_;
  std::vector<int64_t> order_;  // rows of the current epoch
  int64_t position_ = 0;
};

// Runs every batch of `source` through `forward` (batch inputs moved to `device`) with the
// model in eval mode and no gradient, and collects the per-sample results and the scores:
// validation each epoch, the test subset at the end.
struct Evaluation {
  std::vector<int64_t> sample_ids, labels;
  std::vector<std::vector<float>> probs;  // softmax of the logits, one row per sample
  double loss = 0.0;                      // mean unweighted cross-entropy
  double accuracy = 0.0, macro_f1 = 0.0;
  double seconds = 0.0;
};
Evaluation evaluate(nn::Module& model, const Forward& forward, BatchSource& source, Device device,
                    int64_t num_classes);

// Every row of `source` (one epoch, in order) passed through `transform` without gradient:
// the frozen part of a network applied once. Returns the outputs stacked (N, ...) on `device`
// with the labels and sample ids in the same order.
struct Rows {
  Tensor rows;
  std::vector<int64_t> labels, sample_ids;
};
// `epoch` is the source's epoch: with an augmenting, unshuffled loader each epoch gives another
// augmented version of every image, in the same order.
Rows compute_rows(const Forward& transform, BatchSource& source, Device device, int64_t epoch = 0);

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
  float label_smoothing = 0.0f;
};

struct TrainerOptions {
  std::string run_dir;
  std::string model_name;  // "simple_cnn" / "vgg16", stored in checkpoints
  std::vector<std::string> class_names;
  Device device = Device::cpu();
  int64_t patience = 0;          // epochs without a better val macro-F1; 0 = never stop
  int64_t stop_after_epoch = 0;  // end the run after this epoch (0 = off), resumable
  bool live_progress = false;    // the per-batch bar (on a terminal)
  // Stored in every checkpoint beside the weights: architecture, image size, normalisation,
  // class names, settings... everything predict and --resume need to rebuild the run.
  std::map<std::string, std::string> checkpoint_metadata;
};

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
  // evaluates `test` through `forward`, writes predictions.csv and metrics.json (`extra` is
  // merged into metrics.json) and returns the metrics.
  ClassificationMetrics evaluate_test(const Forward& forward, BatchSource& test,
                                      const data::DatasetIndex& index, Json extra);

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
  double setup_seconds_ = 0.0;
  bool resumed_ = false;      // resume() was called
  bool run_started_ = false;  // begin_run() has run
};

// Random-number state of a model (every dropout layer's generator, by its dotted name) and of the
// engine's default generator ("default"), and back.
std::map<std::string, weights::RngState> rng_state(nn::Module& model);
void set_rng_state(nn::Module& model, const std::map<std::string, weights::RngState>& state);

// ---- Checkpoints: the model's weights, the optimiser state, the loop state and metadata ---------
//
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

// ---- What both trainer tools share: flags, presets, data and split ------------------------------

struct TrainingSettings {
  std::string data;  // the dataset folder (one sub-folder per class)
  std::string out;   // the run folder; default runs/<tool>-<timestamp>
  std::string device = "auto";
  std::string preset = "auto";
  int64_t epochs = 0;  // set by the preset
  int64_t batch = 32;
  int64_t img_size = 0;  // set by the preset
  float lr = 0.0f;       // set by the preset
  float weight_decay = 0.01f;
  std::string optimizer = "adamw";
  std::string schedule = "cosine";
  float warmup_epochs = 1.0f;
  float label_smoothing = 0.0f;
  int64_t seed = 42;
  float val_frac = 0.15f, test_frac = 0.15f;
  int64_t folds = 0;  // 0: a plain train/val/test split
  int64_t fold = 1;   // 1-based, with --folds
  bool all_folds = false;
  bool class_weights = true;
  bool augment = true;
  int64_t patience = 0;
  std::string resume;
  bool deterministic = false;
  int64_t limit_per_class = 0;
  std::string split_csv;
  int64_t stop_after = 0;
  int workers = 2;
  bool skip_bad = false;
};

// Registers the flags above on `cli`, with `default_data` as --data's default.
void add_training_flags(CommandLine& cli, TrainingSettings& settings,
                        const std::string& default_data);

// A named set of flag values, applied to the flags the user did not give.
struct Preset {
  std::string name;
  std::vector<std::pair<std::string, std::string>> values;  // flag -> value
};

// The presets as --help shows them, made from the presets themselves so the two cannot drift:
//   presets (values for the flags not given):
//     cpu-quick  --img-size 96 --epochs 80 --lr 0.002 --patience 20
std::string presets_help(const std::vector<Preset>& presets);

// After parsing: restores the settings of the --resume checkpoint (for the flags not given),
// picks the device and the preset (gpu-full on a GPU, cpu-quick otherwise, with one line saying
// which and why), and applies the preset. Returns the device.
Device resolve_training_settings(CommandLine& cli, TrainingSettings& settings,
                                 const std::vector<Preset>& presets, const std::string& model_name);

// The dataset, its decoded images and its split for one run (or one fold).
struct PreparedData {
  data::DatasetIndex index;
  std::unique_ptr<data::ImageCache> cache;  // every image of index, decoded once
  data::Split split;
  std::vector<int64_t> train_ids, val_ids, test_ids;
};
// Scans --data (only the first --limit-per-class images of each class when set), decodes every
// image into the cache (with --skip-bad, a file that cannot be decoded is dropped with a warning
// naming it; without, it is an error naming it), then makes or reads the split (--split-csv,
// --folds with the 1-based `fold`, or --val-frac/--test-frac), writes it to <run_dir>/split.csv
// and prints a summary and the dataset's warnings. Clear errors for a missing folder or an empty
// subset.
PreparedData prepare_data(const TrainingSettings& settings, const std::string& run_dir,
                          int64_t fold, const data::CacheOptions& cache_options);

// The config.json every run writes: every setting, plus model, seed, device, git commit, preset,
// image size and epochs (and `extra`, the tool's own facts).
Json make_config(const CommandLine& cli, const TrainingSettings& settings,
                 const std::string& model_name, Device device, const std::string& source_dir,
                 const Json& extra);

// The checkpoint metadata both trainers store: settings (as flag text), class names, image size.
std::map<std::string, std::string> base_checkpoint_metadata(const CommandLine& cli,
                                                            const TrainingSettings& settings,
                                                            const PreparedData& data);

// Learning-rate schedule for `steps` optimiser steps (--schedule, --warmup-epochs).
std::unique_ptr<optim::Schedule> make_schedule(const TrainingSettings& settings, int64_t steps,
                                               int64_t steps_per_epoch);
// The optimiser of --optimizer over the given parameter groups.
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSettings& settings,
                                                 std::vector<optim::ParamGroup> groups);

// Loader options from the settings: batch, image size, seed, workers; training = shuffled and
// augmented (when --augment is on), otherwise in split order without augmentation.
data::LoaderOptions make_loader_options(const TrainingSettings& settings,
                                        const data::Normalization& normalization, bool training);

// A normalisation as JSON ({"name", "bgr", "scale", "mean", "std"}) for config.json and the
// checkpoints, and back (what predict uses to prepare images exactly as in training).
Json normalization_to_json(const data::Normalization& normalization);
data::Normalization normalization_from_json(const Json& json);

// Trains what the flags ask for. One run into settings.out (the --fold of --folds, or the plain
// split); with --all-folds each fold k into out/fold<k>, then the folds' summary (out/config.json
// and out/metrics.json). train_run(run_dir, fold) trains one run (fold 0: no k-fold split) and
// returns its test metrics, or nothing when it stopped on purpose (--stop-after), which ends the
// folds there.
using TrainRun = std::function<std::optional<ClassificationMetrics>(const std::string&, int64_t)>;
void train_runs(const CommandLine& cli, TrainingSettings& settings, const std::string& model_name,
                Device device, const TrainRun& train_run);

// The top-level metrics.json of --all-folds: each fold's test metrics and, for the main scores,
// mean and standard deviation across folds.
void write_fold_summary(const std::string& dir, const std::string& model_name,
                        const std::vector<ClassificationMetrics>& folds, const Json& extra);

}  // namespace busi::tools
