// finetune_vgg: fine-tunes VGG16 from ImageNet weights on BUSI in two phases (1: the pretrained
// conv layers frozen, the new head and any He-initialised conv layers trained; 2: the blocks from
// --unfreeze-from on trained too, pretrained layers at a smaller rate) and writes a run folder
// like train_simple's. On a CPU the frozen layers run once per image (cached features).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "data/image_cache.h"
#include "data/normalize.h"
#include "engine/autograd.h"
#include "engine/nn.h"
#include "models/vgg16.h"
#include "tools/common/cli.h"
#include "tools/common/progress.h"
#include "tools/common/run_dir.h"
#include "tools/common/trainer.h"
#include "weights/metadata.h"
#include "weights/state_dict_io.h"
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
};

// cpu-quick: 64 px, frozen layers cached. With the partial ImageNet file 8 conv layers start
// from He initialisation and need many epochs before they learn (the loss stays near ln 3 for
// the first 4 to 6, by the seed): 16 head epochs at 64 px cost what 9 cost at 96 px, and reached
// a validation macro-F1 of 0.80 where 96 px with 6 did not pass 0.53. The training images are
// used as they are (--feature-views 1): with 4 augmented views the runs stalled longer and did
// worse on each of three seeds (docs/results.md), so the views are an option, not the default.
// gpu-full: 224 px, augmentation in both phases, the whole network every step.
std::vector<Preset> vgg_presets() {
  return {
      {"cpu-quick",
       {{"--img-size", "64"},
        {"--head-epochs", "16"},
        {"--finetune-epochs", "4"},
        {"--batch", "16"},
        {"--head-lr", "0.0003"},
        {"--lr", "0.0003"},
        {"--finetune-lr", "0.0001"},
        {"--cache-features", "on"},
        {"--feature-views", "1"},
        {"--patience", "0"}}},
      {"gpu-full",
       {{"--img-size", "224"},
        {"--head-epochs", "15"},
        {"--finetune-epochs", "30"},
        {"--head-lr", "0.0003"},
        {"--lr", "0.0003"},
        {"--finetune-lr", "0.0001"},
        {"--cache-features", "off"},
        {"--patience", "10"}}},
  };
}

// The features of the frozen leading layers, computed once per run (one fold) and reused by the
// next phase when it freezes the same layers.
struct FeatureCache {
  size_t frozen_layers = 0;  // 0: nothing cached
  Rows train, val;           // train.rows holds every view of the training images (views x N)
};

struct Context {
  CommandLine* cli = nullptr;
  TrainingSettings settings;
  VggSettings vgg;
  Device device;
  FeatureCache features;  // reset at the start of each run
};

// ---- Weights ------------------------------------------------------------------------------------

std::string shared_partial_weights() {
  return fs::path(BUSI_SOURCE_DIR "/../shared/weights/vgg16_torchvision_partial.safetensors")
      .lexically_normal()
      .string();
}

std::string missing_weights_message(const std::string& path) {
  return "VGG16 ImageNet weights not found: '" + path +
         "'.\nCreate the engine's weight file with one of:\n"
         "  python3 tools/export_torchvision_vgg16.py --out vgg16.safetensors   # from "
         "vgg16-397923af.pth, needs PyTorch\n"
         "  build/tools/convert_weights --from torchvision vgg16.safetensors\n"
         "or from Keras' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5:\n"
         "  build/tools/convert_weights --from keras "
         "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5\n"
         "(both write weights/vgg16_imagenet.safetensors; see weights/README.md), or give "
         "--weights PATH, or --init random for the ablation without ImageNet weights.";
}

// --weights as given; otherwise the converted default, else the shared partial file (said so).
std::string resolve_weights_file(const CommandLine& cli, const VggSettings& v) {
  if (cli.given("--weights") || fs::exists(v.weights)) {
    BUSI_CHECK(fs::exists(v.weights), missing_weights_message(v.weights));
    return v.weights;
  }
  const std::string partial = shared_partial_weights();
  BUSI_CHECK(fs::exists(partial), missing_weights_message(v.weights));
  std::cout << "weights: " << v.weights << " does not exist; using the shared partial file "
            << partial << " instead\n";
  return partial;
}

// What was loaded into the model, for freezing, parameter groups, config and metrics.
struct Pretrained {
  std::string weights_file;      // "" with --init random
  std::set<std::string> layers;  // conv layers with ImageNet weights
  std::string summary;           // "ImageNet weights: 5 of 13 conv layers (...); ..."
  std::string preprocessing;     // imagenet-torch / imagenet-caffe
};

// Loads `weights_file` into the model ("" = --init random: nothing to load).
Pretrained load_imagenet(models::VGG16& model, const std::string& weights_file) {
  Pretrained p;
  if (weights_file.empty()) {
    p.summary = "ImageNet weights: none (--init random): all 13 conv layers He-initialised";
    p.preprocessing = weights::kImagenetTorch;  // the same input as the ImageNet run
    return p;
  }
  p.weights_file = weights_file;
  const weights::LoadReport report = weights::load_state_dict(
      weights_file, model.state_dict(), weights::vgg16_imagenet_load_options());
  for (const std::string& layer : weights::vgg16_conv_layers_loaded(report)) p.layers.insert(layer);
  p.summary = weights::vgg16_imagenet_summary(report);
  p.preprocessing = weights::preprocessing_of(report.metadata);
  if (p.preprocessing.empty()) {
    std::cout << "weights: " << weights_file << " does not say its preprocessing; assuming "
              << weights::kImagenetTorch << "\n";
    p.preprocessing = weights::kImagenetTorch;
  }
  return p;
}

// ---- Which layers train in which phase ----------------------------------------------------------

// Phase 1 ("head"): the head and every He-initialised conv layer train, the pretrained layers
// are frozen. Phase 2 ("finetune"): additionally the pretrained layers of the blocks from
// --unfreeze-from on. Returns the parameter groups: "new" (head, He-initialised convs) at
// `lr`, "pretrained" at lr * base_lr_scale.
std::vector<optim::ParamGroup> set_trainable(models::VGG16& model, const Pretrained& pretrained,
                                             bool finetune, const VggSettings& v, float lr,
                                             float weight_decay) {
  const int unfreeze_block = models::VGG16::block_of(v.unfreeze_from);
  optim::ParamGroup fresh{"new", {}, lr, weight_decay};
  optim::ParamGroup base{"pretrained", {}, lr * v.base_lr_scale, weight_decay};
  for (const std::string& layer : models::VGG16::conv_layer_names()) {
    const bool is_pretrained = pretrained.layers.count(layer) > 0;
    const bool trains =
        !is_pretrained || (finetune && models::VGG16::block_of(layer) >= unfreeze_block);
    model.conv(layer)->set_requires_grad(trains);
    if (!trains) continue;
    for (const NamedTensor& t : model.conv(layer)->named_parameters())
      (is_pretrained ? base : fresh).params.push_back({layer + "." + t.name, t.tensor});
  }
  for (const NamedTensor& t : model.head_fc()->named_parameters())
    fresh.params.push_back({"head_fc." + t.name, t.tensor});
  std::vector<optim::ParamGroup> groups = {fresh};
  if (!base.params.empty()) groups.push_back(base);
  return groups;
}

// The number of leading conv layers that are frozen: the part that may be computed once.
size_t frozen_prefix(models::VGG16& model) {
  size_t k = 0;
  for (const std::string& layer : models::VGG16::conv_layer_names()) {
    if (model.conv(layer)->weight.requires_grad()) break;
    ++k;
  }
  return k;
}

nn::Dropout& head_dropout(models::VGG16& model) {
  for (const auto& [name, child] : model.children())
    if (auto* d = dynamic_cast<nn::Dropout*>(child.get())) return *d;
  throw Error("VGG16 has no dropout layer");
}

// ---- A phase's data: images, or features of the frozen prefix computed once ---------------------

struct PhaseData {
  std::unique_ptr<BatchSource> train, val;
  Forward forward;
  size_t cached_layers = 0;  // 0: images (the whole network runs every step)
};

PhaseData make_phase_data(Context& ctx, models::VGG16& model, const data::ImageCache& cache,
                          const PreparedData& d, const data::Normalization& norm,
                          const std::string& phase, Trainer& trainer) {
  const TrainingSettings& s = ctx.settings;
  PhaseData out;
  const size_t k = ctx.vgg.cache_features ? frozen_prefix(model) : 0;
  if (k == 0) {
    out.train =
        std::make_unique<LoaderSource>(cache, d.train_ids, make_loader_options(s, norm, true));
    out.val = std::make_unique<LoaderSource>(cache, d.val_ids, make_loader_options(s, norm, false));
    out.forward = [&model](const Tensor& x) { return model.forward(x); };
    std::cout << "phase " << phase << ": images through the whole network"
              << (s.augment ? ", augmented" : "") << "\n";
    return out;
  }
  const auto& names = models::VGG16::conv_layer_names();
  const bool all_frozen = k == names.size();
  // Frozen layers (and, when all 13 are, block5_pool + global average pooling) applied once.
  const Forward frozen = [&model, k, all_frozen](const Tensor& x) {
    const Tensor h = model.forward_layers(x, 0, k);
    return all_frozen ? global_avg_pool2d(max_pool2d(h, 2)) : h;
  };
  // Versions of each training image in the cache (augmented views need augmentation on).
  const int64_t views = s.augment ? ctx.vgg.feature_views : 1;
  FeatureCache& features = ctx.features;
  if (features.frozen_layers == k) {
    std::cout << "phase " << phase << ": " << names[0] << " ... " << names[k - 1]
              << " are frozen, as in the previous phase: its features are reused\n";
  } else {
    const auto start = std::chrono::steady_clock::now();
    model.eval();
    // View v of the training images: as they are (v = 0) or augmented as in loader epoch v (the
    // loader is not shuffled, so every view lists the samples in the same order).
    auto train_view = [&](int64_t v) {
      data::LoaderOptions o = make_loader_options(s, norm, false);
      o.augment = v > 0;
      LoaderSource train_images(cache, d.train_ids, o);
      return compute_rows(frozen, train_images, ctx.device, v);
    };
    features.train = train_view(0);
    const Shape view_shape = features.train.rows.shape();
    if (views > 1) {
      // Every view in one tensor, view v of sample i at row v * N + i (what TensorSource reads);
      // each later view is copied in as soon as it is computed.
      const int64_t n = view_shape[0];
      Shape shape = view_shape;
      shape[0] = n * views;
      const Tensor first = features.train.rows;
      features.train.rows = Tensor::empty(shape, ctx.device);
      features.train.rows.narrow0(0, n).copy_(first);
      for (int64_t v = 1; v < views; ++v)
        features.train.rows.narrow0(v * n, n).copy_(train_view(v).rows);
    }
    LoaderSource val_images(cache, d.val_ids, make_loader_options(s, norm, false));
    features.val = compute_rows(frozen, val_images, ctx.device);
    features.frozen_layers = k;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    trainer.add_setup_seconds(seconds);
    const double megabytes = static_cast<double>(features.train.rows.numel()) * 4.0 / 1e6;
    std::cout << "phase " << phase << ": " << names[0] << " ... " << names[k - 1]
              << " are frozen: computed once per image (" << views << " x " << shape_str(view_shape)
              << " training features, " << std::lround(megabytes) << " MB, in "
              << format_duration(seconds) << "); "
              << (views > 1
                      ? "each epoch trains on one of the " + std::to_string(views) +
                            " versions of each image (the first as is, the others augmented)\n"
                      : std::string("no augmentation (--feature-views 1)\n"));
  }
  const Rows& train_rows = features.train;
  const Rows& val_rows = features.val;
  const uint64_t seed = static_cast<uint64_t>(s.seed);
  out.train = std::make_unique<TensorSource>(train_rows.rows, train_rows.labels,
                                             train_rows.sample_ids, s.batch, true, seed, views);
  out.val = std::make_unique<TensorSource>(val_rows.rows, val_rows.labels, val_rows.sample_ids,
                                           s.batch, false, seed);
  out.cached_layers = k;
  if (all_frozen) {
    out.forward = [&model](const Tensor& pooled) {
      return model.head_fc()->forward(head_dropout(model).forward(pooled));
    };
  } else {
    out.forward = [&model, k](const Tensor& h) {
      return model.forward_head(
          model.forward_layers(h, k, models::VGG16::conv_layer_names().size()));
    };
  }
  return out;
}

// Runs one phase ("head" or "finetune"); false when the run was stopped (--stop-after).
bool run_vgg_phase(Context& ctx, models::VGG16& model, const data::ImageCache& cache,
                   const PreparedData& d, const data::Normalization& norm,
                   const Pretrained& pretrained, Trainer& trainer, bool finetune) {
  const TrainingSettings& s = ctx.settings;
  const VggSettings& v = ctx.vgg;
  const std::string name = finetune ? "finetune" : "head";
  const int64_t epochs = finetune ? v.finetune_epochs : v.head_epochs;
  if (epochs == 0 || trainer.phase_already_done(name, epochs)) return true;
  const float lr = finetune ? v.finetune_lr : v.head_lr;
  std::vector<optim::ParamGroup> groups =
      set_trainable(model, pretrained, finetune, v, lr, s.weight_decay);
  for (const optim::ParamGroup& g : groups)
    std::cout << "phase " << name << ": group '" << g.name << "' " << g.params.size()
              << " tensors at lr " << g.lr << "\n";
  std::cout << "phase " << name << ": " << model.num_parameters(true) << " of "
            << model.num_parameters() << " parameters trainable\n";

  PhaseData data = make_phase_data(ctx, model, cache, d, norm, name, trainer);
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
  const std::string weights_file = v.init == "random" ? "" : resolve_weights_file(*ctx.cli, v);
  data::CacheOptions cache_options;
  cache_options.height = cache_options.width = s.img_size;
  cache_options.channels = 3;  // ImageNet filters expect RGB: the grey value goes to R, G and B
  const PreparedData d = prepare_data(s, run_dir, fold, cache_options);
  const data::ImageCache& cache = *d.cache;
  models::VGG16Config config;
  config.num_classes = d.index.num_classes();
  config.dropout = v.dropout;
  config.seed = static_cast<uint64_t>(s.seed);
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

  Json architecture = Json::object();
  architecture["num_classes"] = config.num_classes;
  architecture["dropout"] = config.dropout;
  architecture["seed"] = static_cast<int64_t>(config.seed);
  const int64_t layers_loaded = static_cast<int64_t>(pretrained.layers.size());

  TrainerOptions options;
  options.run_dir = run_dir;
  options.model_name = models::VGG16::kModelName;
  options.class_names = d.index.classes;
  options.device = ctx.device;
  options.patience = s.patience;
  options.stop_after_epoch = s.stop_after;
  options.live_progress = stdout_is_terminal();
  options.checkpoint_metadata = base_checkpoint_metadata(*ctx.cli, s, d);
  options.checkpoint_metadata["architecture"] = architecture.dump(0);
  options.checkpoint_metadata["normalization"] = normalization_to_json(norm).dump(0);
  options.checkpoint_metadata["imagenet_layers_loaded"] = std::to_string(layers_loaded);
  Trainer trainer(model, options);

  Json facts = Json::object();
  facts["imagenet_layers_loaded"] = layers_loaded;
  facts["imagenet_layers_total"] = static_cast<int64_t>(models::VGG16::conv_layer_names().size());
  facts["imagenet_summary"] = pretrained.summary;
  facts["weights_file"] = pretrained.weights_file;
  facts["init"] = v.init;
  facts["preprocessing"] = norm.name;
  Json config_extra = facts;
  config_extra["normalization"] = normalization_to_json(norm);
  config_extra["architecture"] = architecture;
  if (s.folds > 0) config_extra["fold"] = fold;
  write_config_json(run_dir, make_config(*ctx.cli, s, options.model_name, ctx.device,
                                         BUSI_SOURCE_DIR, config_extra));
  if (!s.resume.empty()) trainer.resume(s.resume);

  std::cout << "VGG16: " << model.num_parameters() << " parameters, " << s.img_size << " x "
            << s.img_size << " RGB input, " << v.head_epochs << " head + " << v.finetune_epochs
            << " fine-tuning epochs on " << ctx.device.str() << "\n";
  bool finished = run_vgg_phase(ctx, model, cache, d, norm, pretrained, trainer, false);
  if (finished) finished = run_vgg_phase(ctx, model, cache, d, norm, pretrained, trainer, true);
  trainer.print_summary();
  if (!finished) return std::nullopt;

  LoaderSource test(cache, d.test_ids, make_loader_options(s, norm, false));
  const Forward forward = [&model](const Tensor& x) { return model.forward(x); };
  const ClassificationMetrics m = trainer.evaluate_test(forward, test, d.index, facts);
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
}

// --epochs N (the shared flag) splits into the two phases, --lr is --head-lr: values derived
// from the command line, so they beat a resumed checkpoint's settings and the preset.
void derive_phase_flags(CommandLine& cli, const TrainingSettings& s) {
  if (cli.given("--epochs")) {
    const int64_t head = (s.epochs + 1) / 2;
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
      "--cache-features on computes the frozen layers once per image (fast on a CPU); the\n"
      "training images are then augmented only through --feature-views (K fixed versions of\n"
      "each). off runs the whole network every step, on freshly augmented images.\n"
      "--epochs N sets the two phases to ceil(N/2) + floor(N/2) epochs.\n"
      "outputs: config.json split.csv history.csv best.safetensors last.safetensors "
      "predictions.csv metrics.json (see tools/README.md)\n");
  if (!cli.parse(argc, argv)) return 0;
  TrainingSettings& s = ctx.settings;
  VggSettings& v = ctx.vgg;
  derive_phase_flags(cli, s);
  ctx.device = resolve_training_settings(cli, s, vgg_presets(), models::VGG16::kModelName);
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
