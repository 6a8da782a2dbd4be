// The trainers' shared flags and how they are resolved after parsing (see settings.h).
#include "tools/train/settings.h"

#include <filesystem>
#include <iostream>

#include "data/image.h"
#include "engine/precision.h"
#include "kernels/common/error.h"
#include "tools/formats/json_value.h"
#include "tools/run_folder/run_dir.h"
#include "tools/train/run_checkpoint.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi::tools {

void add_training_flags(CommandLine& cli, TrainingSettings& s, const std::string& default_data) {
  s.data = default_data;
  cli.add("--data", &s.data, "DIR", "dataset folder, one sub-folder of images per class");
  cli.add("--out", &s.out, "DIR", "run folder for every output");
  cli.set_default_text("--out", "runs/" + cli.program() + "-<YYYYmmdd-HHMMSS>");
  cli.add_choice("--device", &s.device, {"auto", "cpu", "cuda"}, "where to compute");
  cli.add_choice("--precision", &s.precision, {"fp32", "bf16", "auto"},
                 "math of the matrix products and convolutions: fp32, or bf16 operands with FP32 "
                 "accumulation (weights, optimiser, loss, batch norm stay FP32); auto: bf16 where "
                 "the device multiplies bf16 natively (docs/bf16.md)");
  cli.add_choice("--preset", &s.preset, {"auto", "cpu-quick", "gpu-full"},
                 "recipe for the flags not given (auto: gpu-full on a GPU, else cpu-quick)");
  cli.add("--epochs", &s.epochs, "N", "training epochs");
  cli.set_default_text("--epochs", "from the preset");
  cli.add("--batch", &s.batch, "N", "images per batch");
  cli.add("--img-size", &s.img_size, "PX", "images are resized to PX x PX");
  cli.set_default_text("--img-size", "from the preset");
  cli.add("--lr", &s.lr, "X", "learning rate (peak of the schedule)");
  cli.set_default_text("--lr", "from the preset");
  cli.add("--weight-decay", &s.weight_decay, "X", "weight decay (AdamW: decoupled, times lr)");
  cli.add_choice("--optimizer", &s.optimizer, {"adamw", "sgd"},
                 "optimiser (sgd: momentum 0.9, Nesterov)");
  cli.add_choice("--schedule", &s.schedule, {"cosine", "step", "constant"},
                 "learning-rate schedule per step (cosine: linear warm-up, then half a cosine; "
                 "step: x0.1 at each third)");
  cli.add("--warmup-epochs", &s.warmup_epochs, "E", "warm-up length of the cosine schedule");
  cli.add("--label-smoothing", &s.label_smoothing, "E", "label smoothing of the training loss");
  cli.add("--seed", &s.seed, "N", "seed of the split, initial weights, order, augmentation");
  cli.add("--val-frac", &s.val_frac, "F", "fraction of each class for validation");
  cli.add("--test-frac", &s.test_frac, "F", "fraction of each class for the test (no --folds)");
  cli.add("--folds", &s.folds, "K", "stratified K-fold cross-validation instead (0: off)");
  cli.add("--fold", &s.fold, "I", "with --folds: the fold used as test subset, 1..K");
  cli.add_switch("--all-folds", &s.all_folds,
                 "with --folds: train every fold in <out>/fold<i>/ and summarise them");
  cli.add_on_off("--class-weights", &s.class_weights,
                 "weigh the loss by inverse class frequency (training subset)");
  cli.add_on_off("--augment", &s.augment,
                 "training augmentation (crop, flip, rotation, brightness/contrast)");
  cli.add_choice("--augment-policy", &s.augment_policy, {"fixed", "trivial"},
                 "fixed: every augmentation each image; trivial: crop and flip, then one of 11 "
                 "operations (rotate, shear, translate, brightness, contrast, gamma, blur, "
                 "speckle, identity) at a random strength (TrivialAugment)");
  cli.add("--patience", &s.patience, "N",
          "stop a phase after N epochs without a better validation macro-F1 (0: never)");
  cli.add("--resume", &s.resume, "CKPT",
          "continue the run of this checkpoint (its settings unless given again)");
  cli.add_switch("--deterministic", &s.deterministic,
                 "fixed algorithms, the same result twice (the CPU path always is)");
  cli.add("--limit-per-class", &s.limit_per_class, "N",
          "use only the first N images of each class (tiny test runs; 0: all)");
  cli.add("--split-csv", &s.split_csv, "PATH",
          "reuse this split (path,class,subset[,group]) exactly; its groups are recomputed");
  cli.add_choice("--group-duplicates", &s.group_duplicates, {"near", "exact"},
                 "what a split keeps together: near = near-duplicate images (the same scan "
                 "resized, re-cropped, marked...) and byte-identical files; exact = "
                 "byte-identical files only (the splits made before near-duplicate detection)");
  cli.add("--near-threshold", &s.near_threshold, "F",
          "fine similarity (aligned fine detail, -1..1) from which two images are one scan; "
          "pairs whose plain 32 px thumbnails correlate at 0.93 or more are near-duplicates too");
  cli.add_choice("--label-conflicts", &s.label_conflicts, {"exclude", "keep"},
                 "groups of duplicates filed under two classes: exclude = left out of training "
                 "and evaluation (a warning names the files); keep = split as one group, each "
                 "image keeping the label of its folder");
  cli.add("--stop-after", &s.stop_after, "E",
          "stop after epoch E as if interrupted (continue with --resume; 0: off)");
  cli.add("--workers", &s.workers, "N", "background threads preparing batches");
  cli.add_switch("--skip-bad", &s.skip_bad,
                 "skip images that cannot be decoded or are too large (a warning names each) "
                 "instead of stopping");
  cli.add("--max-image-megapixels", &s.max_image_megapixels, "MP",
          "refuse images whose header claims more pixels (1 MP = 2^20; 64 = 8192 x 8192)");
}

namespace {

// Flags a checkpoint's settings never restore: they describe this invocation, not the run.
bool restorable(const std::string& flag) {
  return flag != "--resume" && flag != "--stop-after" && flag != "--out" && flag != "--all-folds" &&
         flag != "--split-csv";
}

void restore_from_checkpoint(CommandLine& cli, TrainingSettings& s, const std::string& model_name) {
  namespace fs = std::filesystem;
  const weights::CheckpointInfo info = read_checkpoint_metadata(s.resume);
  BUSI_CHECK(info.model_name == model_name, "checkpoint '", s.resume, "' is for model '",
             info.model_name, "', but ", cli.program(), " trains '", model_name, "'");
  BUSI_CHECK(!s.all_folds,
             "--resume continues one run: resume a fold's folder on its own "
             "(--resume <out>/fold<i>/last.safetensors)");
  const auto flags = info.settings.find("flags");
  if (flags != info.settings.end()) {
    const Json saved = parse_json(flags->second, s.resume + " (flags)");
    for (const auto& [flag, value] : saved.items())
      if (restorable(flag) && cli.has_flag(flag)) cli.set_if_not_given(flag, value.as_string());
  }
  // The run continues in the checkpoint's folder, with the split written there.
  const fs::path folder = fs::path(s.resume).parent_path();
  const std::string dir = folder.empty() ? "." : folder.string();
  if (!cli.given("--out")) s.out = dir;
  if (!cli.given("--split-csv") && fs::exists(dir + "/split.csv")) s.split_csv = dir + "/split.csv";
}

void check_settings(const TrainingSettings& s) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw UsageError(message);
  };
  require(s.batch >= 1, "--batch must be at least 1");
  require(s.img_size >= 8, "--img-size must be at least 8");
  require(s.lr > 0.0f, "--lr must be positive");
  require(s.weight_decay >= 0.0f, "--weight-decay must be >= 0");
  require(s.val_frac > 0.0f && s.val_frac < 1.0f,
          "--val-frac must be in (0, 1): validation picks the best epoch");
  require(s.test_frac > 0.0f && s.val_frac + s.test_frac < 1.0f,
          "--test-frac must be positive and --val-frac + --test-frac below 1");
  require(s.folds == 0 || s.folds >= 2, "--folds must be 0 (off) or at least 2");
  require(s.folds == 0 || (s.fold >= 1 && s.fold <= s.folds), "--fold must be in 1..--folds");
  require(!s.all_folds || s.folds >= 2, "--all-folds needs --folds K");
  require(s.patience >= 0 && s.stop_after >= 0 && s.limit_per_class >= 0,
          "--patience, --stop-after and --limit-per-class must be >= 0");
  require(s.workers >= 0, "--workers must be >= 0");
  require(s.max_image_megapixels > 0.0f && s.max_image_megapixels <= 4096.0f,
          "--max-image-megapixels must be in (0, 4096]");
  require(s.label_smoothing >= 0.0f && s.label_smoothing < 1.0f,
          "--label-smoothing must be in [0, 1)");
  require(s.near_threshold >= -1.0f && s.near_threshold <= 1.0f,
          "--near-threshold must be in [-1, 1]");
}

}  // namespace

Device resolve_training_settings(CommandLine& cli, TrainingSettings& s,
                                 const std::vector<Preset>& presets,
                                 const std::string& model_name) {
  if (!s.resume.empty()) restore_from_checkpoint(cli, s, model_name);
  const Device device = choose_device(s.device);
  apply_preset(cli, s.preset, presets, device);
  if (s.out.empty()) s.out = default_run_dir(cli.program());
  check_settings(s);
  data::set_max_image_pixels(static_cast<int64_t>(double(s.max_image_megapixels) * 1048576.0));
  const PrecisionChoice precision = resolve_precision(s.precision, device);
  set_precision(precision.precision);
  s.precision_used = precision_name(precision.precision);
  s.precision_reason = precision.reason;
  std::cout << precision_description(precision) << "\n";
  if (s.deterministic && device.is_cuda()) {
#ifdef BUSI_WITH_CUDA
    // cuDNN's fastest algorithms (chosen by timing) may differ between runs, and some sum in a
    // nondeterministic order; the engine's own kernels are deterministic already.
    cuda::set_deterministic(true);
#endif
    std::cout << "deterministic: cuDNN restricted to deterministic algorithms, chosen by "
                 "heuristics\n";
  }
  return device;
}

}  // namespace busi::tools
