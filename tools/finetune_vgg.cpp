// finetune_vgg: fine-tunes VGG16 from ImageNet weights on BUSI in two phases (1: the pretrained
// conv layers frozen, the new head and any He-initialised conv layers trained; 2: the blocks from
// --unfreeze-from on trained too, pretrained layers at a smaller rate) and writes a run folder
// like train_simple's. On a CPU the frozen layers run once per image (cached features).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "data/image_cache.h"
#include "data/normalize.h"
#include "engine/nn.h"
#include "models/vgg16.h"
#include "tools/cli/command_line.h"
#include "tools/cli/progress_bar.h"
#include "tools/cli/tool_main.h"
#include "tools/finetune/feature_cache.h"
#include "tools/finetune/imagenet_weights.h"
#include "tools/finetune/lsuv_vgg16.h"
#include "tools/finetune/trainable_layers.h"
#include "tools/run_folder/run_dir.h"
#include "tools/train/architecture.h"
#include "tools/train/evaluate.h"
#include "tools/train/folds.h"
#include "tools/train/prepare_data.h"
#include "tools/train/presets.h"
#include "tools/train/recipe.h"
#include "tools/train/run_checkpoint.h"
#include "tools/train/run_config.h"
#include "tools/train/settings.h"
#include "tools/train/trainer.h"
#include "weights/vgg16_names.h"

using namespace busi;
using namespace busi::tools;

namespace {

namespace fs = std::filesystem;

// VGG16's own flags, beside the shared training flags.
struct VggSettings {
  std::string weights;
  std::string init = "imagenet";
  int64_t head_epochs = 0, finetune_epochs = 0;
  float head_lr = 0.0f, finetune_lr = 0.0f;
  float base_lr_scale = 0.1f;
  std::string unfreeze_from = "block5";
  bool cache_features = false;
  int64_t feature_views = 1;
  float dropout = 0.5f;
  std::string lsuv = "off";  // off, channel, layer: engine/lsuv.h
  int64_t lsuv_batch = 64;
  bool center_head = false;  // models::VGG16Config::center_head
};

// cpu-quick: 64 px, frozen layers cached. With the partial ImageNet file 8 conv layers start
// from He initialisation and need many epochs before they learn (the loss stays near ln 3 for
// the first 4 to 6, by the seed): 16 head epochs at 64 px cost what 9 cost at 96 px, and reached
// a validation macro-F1 of 0.80 where 96 px with 6 did not pass 0.53. The training images are
// used as they are (--feature-views 1): with 4 augmented views the runs stalled longer and did
// worse on each of three seeds (docs/results.md), so the views are an option, not the default.
// --center-head on removes that stall: every seed is below 1.04 after the first epoch, where off
// stays at ln 3 for 3 to 11 (docs/results.md). Adam moves each head weight by about the rate a
// step whatever its gradient; with ReLU features that are mostly a level shared by all images,
// the uncentred head learned that level, not what tells the classes apart. Its mean is
// recomputed on the training images before each validation: the running mean alone lagged the
// fast-changing features, and the validation loss jumped from epoch to epoch (up to 10.7).
// cpu-quick with a complete file (all 13 layers from ImageNet, what scripts/get_weights.sh
// makes): the seed notebook's recipe at 224 px. Every conv layer is frozen in phase 1, so the
// head trains on pooled block-5 features computed once per image (an epoch takes a moment);
// phase 2 unfreezes block 5 (--unfreeze-from block5) and trains it on block-4 outputs computed
// once. Its time and memory are measured with a synthetic complete file (tools/
// synthetic_weights); its accuracy is unmeasured here (docs/results.md).
// gpu-full: 224 px, augmentation in both phases, the whole network every step.
std::vector<Preset> vgg_presets(bool complete_weights = false) {
  return {
      {"cpu-quick",
       {{"--img-size", complete_weights ? "224" : "64"},
        {"--head-epochs", complete_weights ? "30" : "16"},
        {"--finetune-epochs", "4"},
        {"--batch", "16"},
        {"--head-lr", "0.0003"},
        {"--lr", "0.0003"},
        {"--finetune-lr", "0.0001"},
        {"--cache-features", "on"},
        {"--feature-views", "1"},
        {"--lsuv", "off"},
        {"--center-head", "on"},
        {"--patience", "0"}}},
      {"gpu-full",
       {{"--img-size", "224"},
        {"--head-epochs", "15"},
        {"--finetune-epochs", "30"},
        {"--head-lr", "0.0003"},
        {"--lr", "0.0003"},
        {"--finetune-lr", "0.0001"},
        {"--cache-features", "off"},
        {"--lsuv", "off"},
        {"--center-head", "on"},
        {"--patience", "10"}}},
  };
}

struct Context {
  CommandLine* cli = nullptr;
  TrainingSettings settings;
  VggSettings vgg;
  Device device;
  FeatureCache features;  // reset at the start of each run
};

// Runs one phase ("head" or "finetune"); false when the run was stopped (--stop-after).
bool run_vgg_phase(Context& ctx, models::VGG16& model, const PreparedData& d,
                   const data::Normalization& norm, const Pretrained& pretrained, Trainer& trainer,
                   bool finetune) {
  const TrainingSettings& s = ctx.settings;
  const VggSettings& v = ctx.vgg;
  const std::string name = finetune ? "finetune" : "head";
  const int64_t epochs = finetune ? v.finetune_epochs : v.head_epochs;
  if (epochs == 0 || trainer.phase_already_done(name, epochs)) return true;
  if (finetune && layers_phase2_unfreezes(pretrained.layers, v.unfreeze_from).empty()) {
    // Phase 2 exists to unfreeze pretrained layers. Without any from --unfreeze-from on (the
    // partial file here, or --init random) it would train what phase 1 trained with the
    // schedule restarted. With the partial file its 4 epochs never gave the best checkpoint on
    // the 5 folds of seed 42 and cost 68 s a fold (docs/results.md).
    std::cout << "phase finetune: skipped: the weight file has no layer from " << v.unfreeze_from
              << " on to unfreeze, and every other layer after the frozen ones already "
                 "trained in the head phase\n";
    return true;
  }
  const float lr = finetune ? v.finetune_lr : v.head_lr;
  std::vector<optim::ParamGroup> groups = set_trainable(
      model, pretrained.layers, finetune, v.unfreeze_from, v.base_lr_scale, lr, s.weight_decay);
  for (const optim::ParamGroup& g : groups)
    std::cout << "phase " << name << ": group '" << g.name << "' " << g.params.size()
              << " tensors at lr " << g.lr << "\n";
  std::cout << "phase " << name << ": " << model.num_parameters(true) << " of "
            << model.num_parameters() << " parameters trainable\n";

  PhaseData data = make_phase_data(ctx.features, model, d, norm, s,
                                   {v.cache_features, v.feature_views}, ctx.device, name, trainer);
  auto optimizer = make_optimizer(s, std::move(groups));
  const int64_t steps_per_epoch = data.train->batches_per_epoch();
  auto schedule = make_schedule(s, epochs * steps_per_epoch, steps_per_epoch);
  Phase phase;
  phase.name = name;
  phase.epochs = epochs;
  phase.forward = data.forward;
  phase.train = data.train.get();
  phase.val = data.val.get();
  phase.optimizer = optimizer.get();
  phase.schedule = schedule.get();
  if (s.class_weights)
    phase.class_weights = data::class_weights_inverse_frequency(d.index, d.train_ids);
  phase.label_smoothing = s.label_smoothing;
  if (model.head_center())
    // The centred head's mean, recomputed exactly on the training images with the current
    // weights (nn::MeanCenter: the running mean lags, and its error shifts every logit alike).
    phase.refresh_statistics = [&model, &data, &ctx] {
      refresh_precise_statistics(model, data.forward, *data.train_in_order, ctx.device);
    };
  return trainer.run_phase(phase);
}

// ---- One run ------------------------------------------------------------------------------------

std::optional<ClassificationMetrics> train_one(Context& ctx, const std::string& run_dir,
                                               int64_t fold) {
  const TrainingSettings& s = ctx.settings;
  const VggSettings& v = ctx.vgg;
  ctx.features = FeatureCache();  // a new run (fold) computes its own features
  prepare_run_dir(run_dir);

  // The weight file is checked before the data is read, so that a missing file is reported
  // at once.
  const std::string weights_file =
      v.init == "random" ? "" : resolve_weights_file(v.weights, ctx.cli->given("--weights"));
  data::CacheOptions cache_options;
  cache_options.height = cache_options.width = s.img_size;
  cache_options.channels = 3;  // ImageNet filters expect RGB: the grey value goes to R, G and B
  const PreparedData d = prepare_data(s, run_dir, fold, cache_options);
  const data::ImageCache& cache = *d.cache;
  models::VGG16Config config;
  config.num_classes = d.index.num_classes();
  config.dropout = v.dropout;
  config.seed = static_cast<uint64_t>(s.seed);
  config.center_head = v.center_head;
  if (!s.resume.empty()) {
    // A resumed run keeps its checkpoint's head; checkpoints from before --center-head have none.
    const weights::CheckpointInfo info = read_checkpoint_metadata(s.resume);
    config.center_head =
        vgg16_config(checkpoint_architecture(info, s.resume), "checkpoint '" + s.resume + "'")
            .center_head;
    if (config.center_head != v.center_head)
      std::cout << "note: --center-head " << (v.center_head ? "on" : "off")
                << " ignored: the resumed checkpoint's head has it "
                << (config.center_head ? "on" : "off") << "\n";
  }
  models::VGG16 model(config);
  // The new head starts at zero: every class equally likely (loss ln 3). A random head on the
  // large activations of a deep network gives logits of several units, and the first epochs
  // would be spent undoing them.
  model.head_fc()->weight.zero_();
  model.head_fc()->bias.zero_();
  const Pretrained pretrained = load_imagenet(model, weights_file);
  std::cout << pretrained.summary << "\n";
  model.to(ctx.device);

  const data::Normalization norm = data::Normalization::from_name(pretrained.preprocessing);
  std::cout << "normalisation: " << norm.name << " (what the weight file says)\n";
  // Data-dependent initialisation of the layers the file did not fill, before the first epoch
  // (a resumed run has its trained weights: nothing to initialise).
  std::vector<LsuvLayerReport> lsuv;
  if (v.lsuv != "off" && s.resume.empty())
    lsuv = lsuv_vgg16(model, pretrained.layers, cache, d.train_ids, v.lsuv_batch,
                      make_loader_options(s, norm, false), ctx.device,
                      v.lsuv == "layer" ? LsuvMode::WholeLayer : LsuvMode::PerChannel);

  const Json architecture = architecture_json(config);
  const int64_t layers_loaded = static_cast<int64_t>(pretrained.layers.size());

  TrainerOptions options = make_trainer_options(*ctx.cli, s, d, run_dir, models::VGG16::kModelName,
                                                ctx.device, architecture, norm);
  options.checkpoint_metadata["imagenet_layers_loaded"] = std::to_string(layers_loaded);
  Trainer trainer(model, options);

  Json facts = Json::object();
  facts["imagenet_layers_loaded"] = layers_loaded;
  facts["imagenet_layers_total"] = static_cast<int64_t>(models::VGG16::conv_layer_names().size());
  facts["imagenet_summary"] = pretrained.summary;
  facts["weights_file"] = pretrained.weights_file;
  facts["init"] = v.init;
  facts["lsuv"] = v.lsuv;
  facts["preprocessing"] = norm.name;
  Json config_extra = facts;
  add_run_facts(config_extra, s, d, fold, architecture, norm);
  if (!lsuv.empty()) config_extra["lsuv_layers"] = lsuv_json(lsuv);
  write_config_json(run_dir, make_config(*ctx.cli, s, options.model_name, ctx.device,
                                         BUSI_SOURCE_DIR, config_extra));
  if (!s.resume.empty()) trainer.resume(s.resume);

  std::cout << "VGG16: " << model.num_parameters() << " parameters, " << s.img_size << " x "
            << s.img_size << " RGB input, " << v.head_epochs << " head + "
            << (layers_phase2_unfreezes(pretrained.layers, v.unfreeze_from).empty()
                    ? std::string("no fine-tuning epochs (nothing pretrained to unfreeze)")
                    : std::to_string(v.finetune_epochs) + " fine-tuning epochs")
            << " on " << ctx.device.str() << "\n";
  bool finished = run_vgg_phase(ctx, model, d, norm, pretrained, trainer, false);
  if (finished) finished = run_vgg_phase(ctx, model, d, norm, pretrained, trainer, true);
  trainer.print_summary();
  if (!finished) return std::nullopt;

  // Validation (for the temperature) and test through the whole network, from the images.
  LoaderSource val(cache, d.val_ids, make_loader_options(s, norm, false));
  LoaderSource test(cache, d.test_ids, make_loader_options(s, norm, false));
  const Forward forward = [&model](const Tensor& x) { return model.forward(x); };
  const ClassificationMetrics m = trainer.evaluate_test(forward, val, test, d.index, facts);
  std::printf(
      "test (%lld images): accuracy %.1f%%, balanced accuracy %.1f%%, macro-F1 %.4f, "
      "macro AUC %.4f; trained in %s\n",
      static_cast<long long>(m.n), 100 * m.accuracy, 100 * m.balanced_accuracy, m.macro_f1,
      m.macro_auc, format_duration(trainer.training_seconds()).c_str());
  std::cout << "outputs in " << run_dir << "/\n";
  return m;
}

// ---- Flags --------------------------------------------------------------------------------------

void add_vgg_flags(CommandLine& cli, VggSettings& v) {
  v.weights = std::string(BUSI_SOURCE_DIR) + "/" + weights::kDefaultVGG16WeightsFile;
  cli.add("--weights", &v.weights, "PATH",
          "ImageNet weights (engine format; made by convert_weights). If the default is "
          "missing, ../shared/weights/vgg16_torchvision_partial.safetensors is used");
  cli.add_choice("--init", &v.init, {"imagenet", "random"},
                 "imagenet, or random: the same VGG16 He-initialised (ablation)");
  cli.add("--head-epochs", &v.head_epochs, "N", "epochs of phase 1 (head and new layers)");
  cli.set_default_text("--head-epochs", "from the preset");
  cli.add("--finetune-epochs", &v.finetune_epochs, "N",
          "epochs of phase 2 (blocks from --unfreeze-from too)");
  cli.set_default_text("--finetune-epochs", "from the preset");
  cli.add("--head-lr", &v.head_lr, "X", "learning rate of phase 1 (--lr is the same)");
  cli.set_default_text("--head-lr", "from the preset");
  cli.add("--finetune-lr", &v.finetune_lr, "X", "learning rate of phase 2 (head, new layers)");
  cli.set_default_text("--finetune-lr", "from the preset");
  cli.add("--base-lr-scale", &v.base_lr_scale, "F",
          "phase 2: pretrained layers learn at finetune-lr x F");
  cli.add_choice("--unfreeze-from", &v.unfreeze_from,
                 {"block1", "block2", "block3", "block4", "block5"},
                 "phase 2 also trains the pretrained layers of this block and later ones");
  cli.add_on_off("--cache-features", &v.cache_features,
                 "compute the frozen leading layers once per image (fast)");
  cli.set_default_text("--cache-features", "from the preset");
  cli.add("--feature-views", &v.feature_views, "K",
          "with --cache-features on and --augment on: cache K versions of each training image, "
          "the first as is, the others augmented; each epoch uses one per image, at random");
  cli.set_default_text("--feature-views", "from the preset");
  cli.add("--dropout", &v.dropout, "P", "dropout before the classifier");
  cli.add_choice("--lsuv", &v.lsuv, {"off", "channel", "layer"},
                 "data-dependent initialisation of the conv layers no weight file filled, on "
                 "--lsuv-batch training images: channel (each output channel mean 0, std 1 "
                 "before its ReLU) or layer (the whole output std 1: LSUV); engine/lsuv.h");
  cli.set_default_text("--lsuv", "from the preset");
  cli.add("--lsuv-batch", &v.lsuv_batch, "N", "training images --lsuv measures on");
  cli.add_on_off("--center-head", &v.center_head,
                 "subtract the batch mean of the pooled features before the head (mean-only "
                 "batch normalisation; a running mean at evaluation): the head learns what "
                 "differs between images, not the level they share");
  cli.set_default_text("--center-head", "from the preset");
}

// --epochs N (the shared flag) splits into the two phases (all N to phase 1 when phase 2 has
// nothing to unfreeze and would be skipped), --lr is --head-lr: values derived from the command
// line, so they beat a resumed checkpoint's settings and the preset.
void derive_phase_flags(CommandLine& cli, const TrainingSettings& s, bool phase2_runs) {
  if (cli.given("--epochs")) {
    const int64_t head = phase2_runs ? (s.epochs + 1) / 2 : s.epochs;
    cli.set_if_not_given("--head-epochs", std::to_string(head));
    cli.set_if_not_given("--finetune-epochs", std::to_string(s.epochs - head));
  }
  if (cli.given("--lr")) cli.set_if_not_given("--head-lr", cli.text_of("--lr"));
  if (cli.given("--head-lr")) cli.set_if_not_given("--lr", cli.text_of("--head-lr"));
}

int run(int argc, char** argv) {
  CommandLine cli("finetune_vgg",
                  "Fine-tunes VGG16 (models/vgg16.h) from ImageNet weights on BUSI in two "
                  "phases: (1) pretrained conv layers frozen, the new head and any "
                  "He-initialised conv layers trained; (2) the blocks from --unfreeze-from on "
                  "trained too, pretrained layers at --base-lr-scale times the rate.");
  Context ctx;
  ctx.cli = &cli;
  add_training_flags(cli, ctx.settings,
                     fs::path(BUSI_SOURCE_DIR "/../shared/busi").lexically_normal());
  add_vgg_flags(cli, ctx.vgg);
  cli.set_epilog(
      presets_help(vgg_presets()) +
      "  cpu-quick with a complete weight file (13 of 13 layers): --img-size 224 --head-epochs 30\n"
      "             (the seed's recipe: the head on cached block-5 features, block 5 on cached\n"
      "             block-4 outputs)\n" +
      "--cache-features on computes the frozen layers once per image (fast on a CPU); the\n"
      "training images are then augmented only through --feature-views (K fixed versions of\n"
      "each). off runs the whole network every step, on freshly augmented images.\n"
      "--epochs N sets the two phases to ceil(N/2) + floor(N/2) epochs (all N to phase 1 when\n"
      "phase 2 has no pretrained layer to unfreeze).\n"
      "outputs: config.json split.csv history.csv best.safetensors last.safetensors "
      "predictions.csv metrics.json (see tools/README.md)\n");
  if (!cli.parse(argc, argv)) return 0;
  TrainingSettings& s = ctx.settings;
  VggSettings& v = ctx.vgg;
  // What the weight file holds decides the preset (a complete file gets the 224 px recipe) and
  // whether phase 2 has layers to unfreeze.
  const std::set<std::string> file_layers =
      v.init == "imagenet"
          ? imagenet_layers_in_file(weights_file_to_use(v.weights, cli.given("--weights")))
          : std::set<std::string>{};
  const bool complete = file_layers.size() == models::VGG16::conv_layer_names().size();
  derive_phase_flags(cli, s, !layers_phase2_unfreezes(file_layers, v.unfreeze_from).empty());
  ctx.device = resolve_training_settings(cli, s, vgg_presets(complete), models::VGG16::kModelName);
  if (complete && s.preset == "cpu-quick")
    std::cout << "preset cpu-quick: the weight file holds all 13 conv layers: " << s.img_size
              << " px, every conv layer frozen and computed once per image for the head, then "
                 "block 5 fine-tuned on block-4 outputs computed once\n";
  if (v.head_epochs < 0 || v.finetune_epochs < 0 || v.head_epochs + v.finetune_epochs < 1)
    throw UsageError("--head-epochs and --finetune-epochs must be >= 0, with at least one epoch");
  if (v.feature_views < 1 || v.feature_views > 64)
    throw UsageError("--feature-views must be from 1 to 64");
  if (v.feature_views > 1 && (!v.cache_features || !s.augment))
    std::cout << "note: --feature-views " << v.feature_views << " has no effect with "
              << (v.cache_features ? "--augment off" : "--cache-features off") << "\n";
  if (v.head_lr <= 0 || v.finetune_lr <= 0 || v.base_lr_scale < 0)
    throw UsageError("--head-lr and --finetune-lr must be positive, --base-lr-scale >= 0");
  if (s.img_size < 32) throw UsageError("--img-size must be at least 32 for VGG16 (five pools)");
  s.epochs = v.head_epochs + v.finetune_epochs;  // recorded in config.json

  train_runs(
      cli, s, models::VGG16::kModelName, ctx.device,
      [&](const std::string& run_dir, int64_t fold) { return train_one(ctx, run_dir, fold); });
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("finetune_vgg", run, argc, argv); }
