// train_simple: trains SimpleCNN from scratch on BUSI (grey images, normalised with the training
// subset's own mean and standard deviation, augmentation on) and writes a run folder: config.json,
// split.csv, history.csv, best/last checkpoints, predictions.csv, metrics.json (tools/README.md).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "data/image.h"
#include "data/image_cache.h"
#include "data/normalize.h"
#include "engine/nn.h"
#include "models/simple_cnn.h"
#include "tools/cli/command_line.h"
#include "tools/cli/progress_bar.h"
#include "tools/cli/tool_main.h"
#include "tools/run_folder/run_dir.h"
#include "tools/train/architecture.h"
#include "tools/train/batch_source.h"
#include "tools/train/folds.h"
#include "tools/train/prepare_data.h"
#include "tools/train/presets.h"
#include "tools/train/recipe.h"
#include "tools/train/run_config.h"
#include "tools/train/settings.h"
#include "tools/train/trainer.h"

using namespace busi;
using namespace busi::tools;

namespace {

// Flags of SimpleCNN itself, beside the shared training flags.
struct ArchitectureSettings {
  int64_t width = 32;
  int64_t blocks = 4;
  float dropout = 0.3f;
};

// The recipes: cpu-quick finishes in minutes on a 2-core CPU; gpu-full is the full recipe.
// cpu-quick's schedule is planned over 80 epochs, so the rate stays high for long, and early
// stopping (20 epochs without a better validation macro-F1) usually ends it near epoch 40-50
// (docs/results.md: 30 epochs gave test accuracy 0.63, 80 planned gave 0.77, best at epoch 23).
std::vector<Preset> simple_presets() {
  return {
      {"cpu-quick",
       {{"--img-size", "96"}, {"--epochs", "80"}, {"--lr", "0.002"}, {"--patience", "20"}}},
      {"gpu-full",
       {{"--img-size", "224"}, {"--epochs", "60"}, {"--lr", "0.001"}, {"--patience", "15"}}},
  };
}

// What the run needs that the command line alone does not say.
struct Context {
  CommandLine* cli = nullptr;
  TrainingSettings settings;
  ArchitectureSettings arch;
  bool precise_bn = false;
  float ema = 0.0f;         // decay of the weight average; 0: validate and test the trained weights
  std::string tta = "off";  // off | flip: the final evaluation over each image and its mirror
  Device device;
};

// Trains one run (one fold) in run_dir; returns its test metrics, or nothing when it was stopped
// before the end (--stop-after).
std::optional<ClassificationMetrics> train_one(Context& ctx, const std::string& run_dir,
                                               int64_t fold) {
  const TrainingSettings& s = ctx.settings;
  prepare_run_dir(run_dir);
  data::CacheOptions cache_options;
  cache_options.height = cache_options.width = s.img_size;
  cache_options.channels = 1;  // ultrasound is grey: one channel is all the information
  const PreparedData d = prepare_data(s, run_dir, fold, cache_options);
  const data::ImageCache& cache = *d.cache;
  // Dataset normalisation, measured on the training subset only (the test set stays unseen).
  const data::Normalization norm = data::Normalization::dataset(cache, d.train_ids);
  std::cout << "normalisation: dataset, mean " << norm.mean[0] << ", std " << norm.std[0]
            << " (training subset)\n";

  models::SimpleCNNConfig config;
  config.in_channels = 1;
  config.num_classes = d.index.num_classes();
  config.width = ctx.arch.width;
  config.blocks = ctx.arch.blocks;
  config.dropout = ctx.arch.dropout;
  config.seed = static_cast<uint64_t>(s.seed);
  models::SimpleCNN model(config);
  model.to(ctx.device);

  LoaderSource train(cache, d.train_ids, make_loader_options(s, norm, true));
  LoaderSource val(cache, d.val_ids, make_loader_options(s, norm, false));
  LoaderSource test(cache, d.test_ids, make_loader_options(s, norm, false));

  auto optimizer =
      make_optimizer(s, {optim::ParamGroup{"all", model.named_parameters(), s.lr, s.weight_decay}});
  const int64_t steps_per_epoch = train.batches_per_epoch();
  auto schedule = make_schedule(s, s.epochs * steps_per_epoch, steps_per_epoch);

  const Json architecture = architecture_json(config);

  TrainerOptions options = make_trainer_options(
      *ctx.cli, s, d, run_dir, models::SimpleCNN::kModelName, ctx.device, architecture, norm);
  options.weight_average_decay = ctx.ema;
  Trainer trainer(model, options);

  Json extra = Json::object();
  add_run_facts(extra, s, d, fold, architecture, norm);
  extra["parameters"] = model.num_parameters();
  write_config_json(
      run_dir, make_config(*ctx.cli, s, options.model_name, ctx.device, BUSI_SOURCE_DIR, extra));
  if (!s.resume.empty()) trainer.resume(s.resume);

  std::cout << "SimpleCNN: " << model.num_parameters() << " parameters, " << s.img_size << " x "
            << s.img_size << " grey input, " << s.epochs << " epochs of " << steps_per_epoch
            << " batches on " << ctx.device.str() << "\n";
  const Forward forward = [&model](const Tensor& x) { return model.forward(x); };
  Phase phase;
  phase.name = "train";
  phase.epochs = s.epochs;
  phase.forward = forward;
  phase.train = &train;
  phase.val = &val;
  phase.optimizer = optimizer.get();
  phase.schedule = schedule.get();
  if (s.class_weights)
    phase.class_weights = data::class_weights_inverse_frequency(d.index, d.train_ids);
  phase.label_smoothing = s.label_smoothing;
  // The training images as they are (no augmentation), in order, for the precise statistics.
  LoaderSource train_in_order(cache, d.train_ids, make_loader_options(s, norm, false));
  if (ctx.precise_bn)
    phase.refresh_statistics = [&model, &forward, &train_in_order, &ctx] {
      refresh_precise_statistics(model, forward, train_in_order, ctx.device);
    };
  const bool finished = trainer.run_phase(phase);
  trainer.print_summary();
  if (!finished) return std::nullopt;

  // Test-time flip: the same validation and test images, each mirrored left to right.
  std::optional<LoaderSource> val_mirrored, test_mirrored;
  MirroredSources mirrored;
  if (ctx.tta == "flip") {
    data::LoaderOptions o = make_loader_options(s, norm, false);
    o.custom_transform = [](data::Image& image, int64_t) { data::mirror_image(image); };
    val_mirrored.emplace(cache, d.val_ids, o);
    test_mirrored.emplace(cache, d.test_ids, o);
    mirrored = {&*val_mirrored, &*test_mirrored};
  }
  const ClassificationMetrics m = trainer.evaluate_test(forward, val, test, d.index, Json::object(),
                                                        ctx.tta == "flip" ? &mirrored : nullptr);
  std::printf(
      "test (%lld images): accuracy %.1f%%, balanced accuracy %.1f%%, macro-F1 %.4f, "
      "macro AUC %.4f; trained in %s\n",
      static_cast<long long>(m.n), 100 * m.accuracy, 100 * m.balanced_accuracy, m.macro_f1,
      m.macro_auc, format_duration(trainer.training_seconds()).c_str());
  std::cout << "outputs in " << run_dir << "/\n";
  return m;
}

int run(int argc, char** argv) {
  CommandLine cli("train_simple",
                  "Trains SimpleCNN (models/simple_cnn.h) from scratch on BUSI: grey images, "
                  "dataset normalisation, augmentation, class-weighted loss, AdamW with a cosine "
                  "schedule, the best epoch chosen on the validation macro-F1.");
  Context ctx;
  ctx.cli = &cli;
  add_training_flags(cli, ctx.settings,
                     std::filesystem::path(BUSI_SOURCE_DIR "/../shared/busi").lexically_normal());
  cli.add("--width", &ctx.arch.width, "C", "channels of the first block (doubling per block)");
  cli.add("--blocks", &ctx.arch.blocks, "N", "conv blocks");
  cli.add("--dropout", &ctx.arch.dropout, "P", "dropout before the classifier");
  cli.add_on_off("--precise-bn", &ctx.precise_bn,
                 "before each validation, set the batch-norm statistics to those of the "
                 "(unaugmented) training images under the current weights, instead of the "
                 "running averages that lag them (engine/nn.h BatchNorm2d)");
  cli.add("--ema", &ctx.ema, "DECAY",
          "validate, keep and test an exponential moving average of the weights, updated after "
          "each step with this decay (warmed up: min(DECAY, (1+t)/(10+t)); 0.99 averages about "
          "the last 100 steps; engine/weight_average.h); 0: the trained weights themselves");
  cli.add_choice("--tta", &ctx.tta, {"off", "flip"},
                 "test-time augmentation of the final evaluation: flip averages each validation "
                 "and test image's probabilities with its left-right mirror's (the temperature "
                 "and the malignant threshold are then fitted on those; validation during "
                 "training stays plain)");
  cli.set_epilog(presets_help(simple_presets()) +
                 "outputs: config.json split.csv history.csv best.safetensors last.safetensors "
                 "predictions.csv metrics.json (see tools/README.md)\n");
  if (!cli.parse(argc, argv)) return 0;
  ctx.device =
      resolve_training_settings(cli, ctx.settings, simple_presets(), models::SimpleCNN::kModelName);
  TrainingSettings& s = ctx.settings;
  if (s.epochs < 1) throw UsageError("--epochs must be at least 1");
  if (!(ctx.ema >= 0.0f && ctx.ema < 1.0f))
    throw UsageError("--ema must be in [0, 1) (0: off; 0.99 averages about 100 steps)");

  train_runs(
      cli, s, models::SimpleCNN::kModelName, ctx.device,
      [&](const std::string& run_dir, int64_t fold) { return train_one(ctx, run_dir, fold); });
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("train_simple", run, argc, argv); }
