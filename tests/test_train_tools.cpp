// train_simple and finetune_vgg end to end on a few dozen BUSI images (32 px, CPU): every file
// of the run-folder contract with its fields, resume = uninterrupted run, clear errors for bad
// input; and the flag parser they share.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

#include "tools/cli/command_line.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/finetune/imagenet_weights.h"
#include "tools/metrics/calibration.h"
#include "tools/run_folder/history.h"
#include "tools/train/run_checkpoint.h"
#include "weights/safetensors.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::string kBusi = std::string(BUSI_SHARED_DIR) + "/busi";
const std::string kTools = std::string(BUSI_BINARY_DIR) + "/tools/";
// The tiny setting of every run here: 8 images per class, 32 px, CPU.
const std::string kTiny = " --limit-per-class 8 --img-size 32 --device cpu --workers 1";
const std::string kVggBothPhases = " --unfreeze-from block3";

// A fresh folder for this test process, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("busi_test_train_tools_" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    std::atexit([] {
      fs::remove_all(fs::temp_directory_path() /
                     ("busi_test_train_tools_" + std::to_string(getpid())));
    });
    return d;
  }();
  return dir;
}

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a tool with arguments through the shell, capturing its output.
RunResult run_tool(const std::string& tool, const std::string& args) {
  static int counter = 0;
  const fs::path log = scratch() / ("log" + std::to_string(counter++) + ".txt");
  const std::string command = "'" + kTools + tool + "' " + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

bool have_busi() {
  if (fs::is_directory(kBusi)) return true;
  MESSAGE("skipped: no BUSI images at " << kBusi);
  return false;
}

bool have_tool(const std::string& tool) {
  if (fs::exists(kTools + tool)) return true;
  FAIL("build the tool first: " << kTools << tool << " is missing");
  return false;
}

// A run done once and shared by the test cases that inspect it.
const RunResult& cached_run(const std::string& key, const std::string& tool,
                            const std::string& args) {
  static std::map<std::string, RunResult> runs;
  auto it = runs.find(key);
  if (it == runs.end()) it = runs.emplace(key, run_tool(tool, args)).first;
  return it->second;
}

std::string out_dir(const std::string& name) { return (scratch() / name).string(); }

// The columns of history.csv that do not depend on timing.
std::vector<std::vector<std::string>> history_without_timing(const std::string& dir) {
  const CsvTable table = read_csv(dir + "/history.csv");
  const size_t seconds = table.require_column("seconds");
  const size_t speed = table.require_column("img_per_s");
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : table.rows) {
    std::vector<std::string> kept;
    for (size_t c = 0; c < row.size(); ++c)
      if (c != seconds && c != speed) kept.push_back(row[c]);
    rows.push_back(kept);
  }
  return rows;
}

// Checks every file the run-folder contract promises; returns the test rows of split.csv.
void check_run_folder(const std::string& dir, const std::string& model,
                      const std::vector<std::string>& phases) {
  for (const char* file : {"config.json", "split.csv", "history.csv", "predictions.csv",
                           "metrics.json", "best.safetensors", "last.safetensors"})
    CHECK_MESSAGE(fs::exists(dir + "/" + file), dir << "/" << file << " missing");

  const Json config = read_json_file(dir + "/config.json");
  for (const char* key : {"model", "seed", "device", "git_commit", "img_size", "epochs", "preset"})
    CHECK_MESSAGE(config.contains(key), "config.json lacks " << key);
  CHECK(config.at("model").as_string() == model);
  CHECK(config.at("device").as_string() == "cpu");
  CHECK(config.at("img_size").as_int() == 32);
  CHECK(config.at("preset").as_string() == "cpu-quick");
  // How the images were grouped, and that the split keeps every group in one subset.
  REQUIRE(config.contains("grouping"));
  const Json& grouping = config.at("grouping");
  CHECK(grouping.at("method").as_string() == "near-duplicates");
  CHECK(grouping.at("fine_threshold").as_number() == doctest::Approx(0.40));
  CHECK(grouping.at("images").as_int() == 24);
  CHECK(grouping.at("leaking_groups").as_int() == 0);
  CHECK(grouping.at("label_conflicts_policy").as_string().size() > 0);

  const CsvTable split = read_csv(dir + "/split.csv");
  CHECK(split.header == std::vector<std::string>{"path", "class", "subset", "group"});
  std::map<std::string, std::string> subset_of_group;
  for (const auto& row : split.rows) {
    const auto [it, inserted] = subset_of_group.insert({row[3], row[2]});
    CHECK_MESSAGE(it->second == row[2], "group " << row[3] << " in two subsets");
  }
  CHECK(split.rows.size() == 24);  // 8 per class
  std::vector<std::string> test_paths, test_classes;
  for (const auto& row : split.rows)
    if (row[2] == "test") {
      test_paths.push_back(row[0]);
      test_classes.push_back(row[1]);
    }
  REQUIRE(!test_paths.empty());

  const CsvTable history = read_csv(dir + "/history.csv");
  CHECK(history.header == history_header());
  REQUIRE(history.rows.size() == phases.size());
  for (size_t r = 0; r < phases.size(); ++r) {
    CHECK(history.integer(r, 0) == static_cast<int64_t>(r + 1));
    CHECK(history.rows[r][1] == phases[r]);
    for (size_t c = 2; c < history.header.size(); ++c)
      CHECK_MESSAGE(!history.rows[r][c].empty(), "history.csv: empty " << history.header[c]);
  }

  // One row per test image, in split order: raw and calibrated probabilities summing to 1, the
  // calibrated ones softmax(logits / T) with the temperature of metrics.json and the checkpoint.
  const CsvTable predictions = read_csv(dir + "/predictions.csv");
  CHECK(predictions.header ==
        std::vector<std::string>{"path", "label", "pred", "prob_benign", "prob_malignant",
                                 "prob_normal", "calibrated_prob_benign",
                                 "calibrated_prob_malignant", "calibrated_prob_normal",
                                 "logit_benign", "logit_malignant", "logit_normal"});
  REQUIRE(predictions.rows.size() == test_paths.size());
  const Json metrics = read_json_file(dir + "/metrics.json");
  REQUIRE(metrics.contains("calibration"));
  const Json& calibration = metrics.at("calibration");
  const double temperature = calibration.at("temperature").as_number();
  CHECK(temperature >= 0.05);
  CHECK(temperature <= 20.0);
  std::vector<std::vector<float>> logits;
  std::vector<int64_t> labels;
  const std::vector<std::string> classes = {"benign", "malignant", "normal"};
  for (size_t r = 0; r < test_paths.size(); ++r) {
    CHECK(predictions.rows[r][0] == test_paths[r]);
    CHECK(predictions.rows[r][1] == test_classes[r]);
    const double total =
        predictions.number(r, 3) + predictions.number(r, 4) + predictions.number(r, 5);
    CHECK(total == doctest::Approx(1.0).epsilon(1e-4));
    std::vector<float> z;
    for (size_t c = 9; c < 12; ++c) z.push_back(static_cast<float>(predictions.number(r, c)));
    const std::vector<double> p = softmax_with_temperature({z}, temperature)[0];
    for (size_t c = 0; c < 3; ++c)
      CHECK(predictions.number(r, 6 + c) == doctest::Approx(p[c]).epsilon(1e-5));
    logits.push_back(z);
    labels.push_back(std::find(classes.begin(), classes.end(), test_classes[r]) - classes.begin());
  }
  // The fitted temperature is the NLL's minimum on validation: never worse there than T = 1.
  const Json& val = calibration.at("validation");
  CHECK(val.at("calibrated").at("nll").as_number() <= val.at("raw").at("nll").as_number() + 1e-9);
  // The test scores are those of the logits written.
  const Json& test_scores = calibration.at("test");
  CHECK(test_scores.at("raw").at("nll").as_number() ==
        doctest::Approx(nll_from_logits(logits, labels, 1.0)).epsilon(1e-5));
  CHECK(test_scores.at("calibrated").at("ece").as_number() ==
        doctest::Approx(score_logits(logits, labels, temperature, 15, 0).ece).epsilon(1e-5));
  CHECK(test_scores.at("calibrated").at("reliability").size() == 15);
  const weights::CheckpointInfo best = read_checkpoint_metadata(dir + "/best.safetensors");
  REQUIRE(best.settings.count("temperature") == 1);
  CHECK(std::stod(best.settings.at("temperature")) == doctest::Approx(temperature).epsilon(1e-5));
  const Json& malignant = metrics.at("malignant");
  if (malignant.is_object()) {  // the tiny validation subset may hold no malignant image
    CHECK(malignant.at("threshold").as_number() >= 0.0);
    CHECK(malignant.at("validation").at("sensitivity").as_number() >= 0.9);
    REQUIRE(best.settings.count("malignant_threshold") == 1);
  } else {
    CHECK(malignant.as_string().find("no malignant") != std::string::npos);
  }

  for (const char* key : {"model", "test", "parameters", "trainable_parameters", "training_seconds",
                          "mean_img_per_s", "test_images", "device"})
    CHECK_MESSAGE(metrics.contains(key), "metrics.json lacks " << key);
  CHECK(metrics.at("model").as_string() == model);
  CHECK(metrics.at("test_images").as_int() == static_cast<int64_t>(test_paths.size()));
  const Json& test = metrics.at("test");
  for (const char* key : {"accuracy", "balanced_accuracy", "macro_f1", "macro_auc", "per_class",
                          "confusion_matrix", "accuracy_ci95", "macro_f1_ci95"})
    CHECK_MESSAGE(test.contains(key), "metrics.json test lacks " << key);
  int64_t support_total = 0;
  for (const char* name : {"benign", "malignant", "normal"}) {
    CAPTURE(name);
    REQUIRE(test.at("per_class").contains(name));
    const Json& scores = test.at("per_class").at(name);
    for (const char* key : {"precision", "recall", "f1", "support", "auc"})
      CHECK_MESSAGE(scores.contains(key), "per_class." << name << " lacks " << key);
    support_total += scores.at("support").as_int();
  }
  CHECK(support_total == static_cast<int64_t>(test_paths.size()));
  for (const char* key : {"compiler", "host", "cpu", "omp_threads"})
    CHECK_MESSAGE(config.contains(key), "config.json lacks the environment fact " << key);
  CHECK(metrics.at("overall_img_per_s").as_number() > 0.0);

  for (const char* checkpoint : {"/best.safetensors", "/last.safetensors"})
    CHECK(read_checkpoint_metadata(dir + checkpoint).model_name == model);
}

const RunResult& simple_reference() {
  return cached_run("simple", "train_simple",
                    kTiny + " --epochs 2 --out '" + out_dir("simple") + "'");
}

const RunResult& vgg_reference() {
  // --unfreeze-from block3: phase 2 then has a pretrained layer to unfreeze (block3_conv1, in the
  // partial file as in the complete one), so both phases run.
  return cached_run("vgg", "finetune_vgg",
                    kTiny + kVggBothPhases + " --epochs 2 --out '" + out_dir("vgg") + "'");
}

}  // namespace

// ---- The flag parser ----------------------------------------------------------------------------

TEST_CASE("command line: typed flags, clear errors, presets below the command line") {
  int epochs = 5;
  float lr = 0.1f;
  std::string optimizer = "adamw";
  bool augment = true, all = false;
  CommandLine cli("tool", "test");
  cli.add("--epochs", &epochs, "N", "epochs");
  cli.add("--lr", &lr, "X", "rate");
  cli.add_choice("--optimizer", &optimizer, {"adamw", "sgd"}, "optimiser");
  cli.add_on_off("--augment", &augment, "augmentation");
  cli.add_switch("--all", &all, "all");

  const char* good[] = {"tool", "--epochs", "7", "--lr=0.5", "--augment", "off", "--all"};
  REQUIRE(cli.parse(7, good));
  CHECK(epochs == 7);
  CHECK(lr == 0.5f);
  CHECK_FALSE(augment);
  CHECK(all);
  CHECK(cli.given("--epochs"));
  CHECK_FALSE(cli.given("--optimizer"));
  // A preset fills only what the command line left open, and only the first source counts.
  CHECK_FALSE(cli.set_if_not_given("--epochs", "30"));
  CHECK(cli.set_if_not_given("--optimizer", "sgd"));
  CHECK_FALSE(cli.set_if_not_given("--optimizer", "adamw"));
  CHECK(epochs == 7);
  CHECK(optimizer == "sgd");
  CHECK(cli.settings_json().at("epochs").as_int() == 7);

  auto error_of = [&](std::vector<const char*> args) -> std::string {
    try {
      cli.parse(static_cast<int>(args.size()), args.data());
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of({"tool", "--epoch", "3"}).find("unknown flag '--epoch'") != std::string::npos);
  CHECK(error_of({"tool", "--epochs", "3x"}).find("expected a whole number") != std::string::npos);
  CHECK(error_of({"tool", "--lr", "fast"}).find("expected a number") != std::string::npos);
  CHECK(error_of({"tool", "--optimizer", "adam"}).find("adamw, sgd") != std::string::npos);
  CHECK(error_of({"tool", "--epochs"}).find("missing value") != std::string::npos);
  CHECK(error_of({"tool", "image.png"}).find("unexpected argument") != std::string::npos);
  CHECK(cli.help_text().find("--optimizer adamw|sgd") != std::string::npos);
}

TEST_CASE("command line: a repeated flag keeps every value, in order") {
  std::vector<std::string> folders;
  CommandLine cli("tool", "test");
  cli.add_repeated("--external", &folders, "DIR", "a folder (repeatable)");
  const char* args[] = {"tool", "--external", "a", "--external=b c", "--external", "d"};
  REQUIRE(cli.parse(6, args));
  CHECK(folders == std::vector<std::string>{"a", "b c", "d"});
  CHECK(cli.given("--external"));
  CHECK(cli.text_of("--external") == "a,b c,d");
}

// ---- The trainers end to end --------------------------------------------------------------------

TEST_CASE("train_simple writes every promised file with the promised fields") {
  if (!have_busi() || !have_tool("train_simple")) return;
  const RunResult& run = simple_reference();
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  check_run_folder(out_dir("simple"), "simple_cnn", {"train", "train"});
  const Json config = read_json_file(out_dir("simple") + "/config.json");
  CHECK(config.at("normalization").at("name").as_string() == "dataset");
}

TEST_CASE("finetune_vgg writes every promised file, both phases, the ImageNet layers loaded") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const RunResult& run = vgg_reference();
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string dir = out_dir("vgg");
  check_run_folder(dir, "vgg16", {"head", "finetune"});
  const Json config = read_json_file(dir + "/config.json");
  const Json metrics = read_json_file(dir + "/metrics.json");
  for (const char* key :
       {"imagenet_layers_loaded", "imagenet_layers_total", "weights_file", "init", "preprocessing"})
    CHECK_MESSAGE(config.contains(key), "config.json lacks " << key);
  CHECK(config.at("imagenet_layers_total").as_int() == 13);
  CHECK(config.at("init").as_string() == "imagenet");
  const int64_t loaded = config.at("imagenet_layers_loaded").as_int();
  CHECK(loaded >= 1);
  CHECK(loaded <= 13);
  CHECK(metrics.at("imagenet_layers_loaded").as_int() == loaded);
  CHECK(run.output.find("ImageNet weights: " + std::to_string(loaded) + " of 13 conv layers") !=
        std::string::npos);
}

TEST_CASE("finetune_vgg skips phase 2 when the weight file has nothing from --unfreeze-from on") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const std::string dir = out_dir("vgg_block5");
  const RunResult run = run_tool("finetune_vgg", kTiny +
                                                     " --head-epochs 1 --finetune-epochs 1 "
                                                     "--unfreeze-from block5 --out '" +
                                                     dir + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const Json config = read_json_file(dir + "/config.json");
  // The partial file fills block1 to block3; a complete one fills block5 too, and then phase 2
  // must run.
  const bool has_block5 = config.at("imagenet_layers_loaded").as_int() == 13;
  check_run_folder(
      dir, "vgg16",
      has_block5 ? std::vector<std::string>{"head", "finetune"} : std::vector<std::string>{"head"});
  CHECK((run.output.find("phase finetune: skipped") != std::string::npos) == !has_block5);
  if (has_block5) return;
  // --epochs N then gives all N epochs to phase 1, not half of them to a phase that never runs.
  const std::string all = out_dir("vgg_block5_epochs");
  const RunResult epochs =
      run_tool("finetune_vgg", kTiny + " --epochs 2 --unfreeze-from block5 --out '" + all + "'");
  INFO(epochs.output);
  REQUIRE(epochs.exit_code == 0);
  check_run_folder(all, "vgg16", {"head", "head"});
}

TEST_CASE("finetune_vgg with a complete weight file: cpu-quick runs the seed's 224 px recipe") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const std::string partial =
      std::string(BUSI_SHARED_DIR) + "/weights/vgg16_torchvision_partial.safetensors";
  if (!fs::exists(partial)) {
    MESSAGE("skipped: no partial weight file at " << partial);
    return;
  }
  // A synthetic complete file (the 5 real layers, 8 He-initialised): the path, not the accuracy.
  const std::string complete = (scratch() / "vgg16_complete_synthetic.safetensors").string();
  write_synthetic_complete_weights(partial, complete, 3);
  CHECK(holds_all_imagenet_layers(complete));
  CHECK_FALSE(holds_all_imagenet_layers(partial));
  // The partial file has torchvision's names (features.N.*): its 5 layers are found all the same.
  CHECK(imagenet_layers_in_file(partial).size() == 5);
  CHECK(imagenet_layers_in_file(partial).count("block3_conv1") == 1);
  CHECK_FALSE(holds_all_imagenet_layers((scratch() / "no such file").string()));
  const std::string dir = out_dir("vgg_complete");
  const RunResult run = run_tool(
      "finetune_vgg", "--weights '" + complete +
                          "' --limit-per-class 6 --head-epochs 2 --finetune-epochs 1 --device cpu "
                          "--workers 1 --out '" +
                          dir + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const Json config = read_json_file(dir + "/config.json");
  CHECK(config.at("img_size").as_int() == 224);
  CHECK(config.at("imagenet_layers_loaded").as_int() == 13);
  CHECK(run.output.find("preset cpu-quick: the weight file holds all 13 conv layers") !=
        std::string::npos);
  // Phase 1 caches the whole conv base (pooled block-5 features), phase 2 block 4's output and
  // trains block 5 with the pretrained rate.
  CHECK(run.output.find("block1_conv1 ... block5_conv3 are frozen: computed once per image") !=
        std::string::npos);
  CHECK(run.output.find("block1_conv1 ... block4_conv3 are frozen: computed once per image") !=
        std::string::npos);
  CHECK(run.output.find("phase finetune: group 'pretrained' 6 tensors") != std::string::npos);
  const CsvTable history = read_csv(dir + "/history.csv");
  REQUIRE(history.rows.size() == 3);
  CHECK(history.rows[2][1] == "finetune");
  CHECK(fs::exists(dir + "/metrics.json"));
  // The partial file keeps the 64 px recipe.
  const std::string small = out_dir("vgg_partial_preset");
  const RunResult partial_run =
      run_tool("finetune_vgg", "--weights '" + partial +
                                   "' --limit-per-class 6 --epochs 1 --device cpu --workers 1 "
                                   "--out '" +
                                   small + "'");
  INFO(partial_run.output);
  REQUIRE(partial_run.exit_code == 0);
  CHECK(read_json_file(small + "/config.json").at("img_size").as_int() == 64);
  CHECK(partial_run.output.find("holds all 13 conv layers") == std::string::npos);
}

TEST_CASE(
    "finetune_vgg --center-head: recorded in the architecture, its buffer in the checkpoint") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const RunResult& preset = vgg_reference();  // the preset: on
  REQUIRE(preset.exit_code == 0);
  const std::string plain = out_dir("vgg_plain");
  const RunResult r =
      run_tool("finetune_vgg", kTiny + " --epochs 2 --center-head off --out '" + plain + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const auto& [folder, centred] : {std::pair{plain, false}, std::pair{out_dir("vgg"), true}}) {
    CAPTURE(folder);
    const Json arch = read_json_file(folder + "/config.json").at("architecture");
    CHECK(arch.at("center_head").as_bool() == centred);
    const weights::SafetensorsFile best(folder + "/best.safetensors");
    CHECK((best.find("model.head_center.running_mean") != nullptr) == centred);
  }
  // Another training run: its losses differ from the plain one's.
  CHECK(history_without_timing(plain) != history_without_timing(out_dir("vgg")));
  // A resumed run keeps the checkpoint's head whatever the flag says.
  const std::string resumed = out_dir("vgg_plain_resumed");
  REQUIRE(run_tool("finetune_vgg",
                   kTiny + " --epochs 2 --stop-after 1 --center-head off --out '" + resumed + "'")
              .exit_code == 0);
  const RunResult second =
      run_tool("finetune_vgg", "--resume '" + resumed + "/last.safetensors' --center-head on");
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(second.output.find("--center-head on ignored") != std::string::npos);
  CHECK(history_without_timing(resumed) == history_without_timing(plain));
}

TEST_CASE("finetune_vgg --lsuv: the layers the weight file did not fill, normalised on data") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const std::string dir = out_dir("vgg_lsuv");
  const RunResult& run = cached_run("vgg_lsuv", "finetune_vgg",
                                    kTiny + " --epochs 1 --lsuv channel --out '" + dir + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const Json config = read_json_file(dir + "/config.json");
  CHECK(config.at("lsuv").as_string() == "channel");
  const int64_t loaded = config.at("imagenet_layers_loaded").as_int();
  const Json& layers = config.at("lsuv_layers");
  CHECK(static_cast<int64_t>(layers.size()) == 13 - loaded);  // every layer not loaded, only those
  for (const Json& layer : layers.elements()) {
    CAPTURE(layer.at("layer").as_string());
    CHECK(layer.at("std_after").as_number() == doctest::Approx(1.0).epsilon(0.05));
    CHECK(std::abs(layer.at("mean_after").as_number()) < 0.05);
  }
  CHECK(run.output.find("lsuv: block5_conv3") != std::string::npos);
}

TEST_CASE("finetune_vgg --feature-views: augmented versions of the cached features") {
  if (!have_busi() || !have_tool("finetune_vgg")) return;
  const RunResult r = run_tool("finetune_vgg", kTiny +
                                                   " --epochs 2 --cache-features on"
                                                   " --feature-views 3 --out '" +
                                                   out_dir("vgg_views") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("computed once per image (3 x (") != std::string::npos);
  CHECK(r.output.find("one of the 3 versions of each image") != std::string::npos);
  const Json config = read_json_file(out_dir("vgg_views") + "/config.json");
  CHECK(config.at("feature_views").as_int() == 3);
  // The views differ from the plain run's training, so the first epoch's loss does too.
  const RunResult& plain = vgg_reference();
  REQUIRE(plain.exit_code == 0);
  const CsvTable a = read_csv(out_dir("vgg") + "/history.csv");
  const CsvTable b = read_csv(out_dir("vgg_views") + "/history.csv");
  const size_t loss = a.require_column("train_loss");
  CHECK(a.rows[0][loss] != b.rows[0][loss]);

  const RunResult off = run_tool("finetune_vgg", kTiny +
                                                     " --epochs 1 --augment off"
                                                     " --feature-views 3 --out '" +
                                                     out_dir("vgg_views_off") + "'");
  INFO(off.output);
  CHECK(off.exit_code == 0);
  CHECK(off.output.find("--feature-views 3 has no effect with --augment off") != std::string::npos);
  const RunResult bad = run_tool("finetune_vgg", kTiny + " --feature-views 0");
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("--feature-views must be from 1 to 64") != std::string::npos);
}

TEST_CASE("resume: stopped after epoch 1 and resumed = the uninterrupted run, epoch by epoch") {
  if (!have_busi() || !have_tool("train_simple") || !have_tool("finetune_vgg")) return;
  struct Case {
    std::string tool, reference, flags;
    const RunResult& (*uninterrupted)();
  };
  for (const Case& c : {Case{"train_simple", "simple", "", &simple_reference},
                        Case{"finetune_vgg", "vgg", kVggBothPhases, &vgg_reference}}) {
    CAPTURE(c.tool);
    REQUIRE(c.uninterrupted().exit_code == 0);
    const std::string dir = out_dir(c.reference + "_resumed");
    // For VGG16 epoch 1 ends the head phase: the resumed run starts the fine-tuning phase.
    const RunResult first =
        run_tool(c.tool, kTiny + c.flags + " --epochs 2 --stop-after 1 --out '" + dir + "'");
    INFO(first.output);
    REQUIRE(first.exit_code == 0);
    CHECK(history_without_timing(dir).size() == 1);
    CHECK_FALSE(fs::exists(dir + "/metrics.json"));  // stopped: no test evaluation yet
    const RunResult second = run_tool(c.tool, "--resume '" + dir + "/last.safetensors'");
    INFO(second.output);
    REQUIRE(second.exit_code == 0);
    CHECK(history_without_timing(dir) == history_without_timing(out_dir(c.reference)));
    CHECK(fs::exists(dir + "/metrics.json"));
  }
}

TEST_CASE("train_simple --ema: validation sees the averaged weights; resumed = uninterrupted") {
  if (!have_busi() || !have_tool("train_simple")) return;
  REQUIRE(simple_reference().exit_code == 0);
  const std::string averaged = out_dir("simple_ema");
  const RunResult run =
      run_tool("train_simple", kTiny + " --epochs 2 --ema 0.9 --out '" + averaged + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  // Training is the plain run's (the average never feeds back), validation is not.
  const CsvTable plain = read_csv(out_dir("simple") + "/history.csv");
  const CsvTable ema = read_csv(averaged + "/history.csv");
  REQUIRE(ema.rows.size() == 2);
  for (const char* column : {"train_loss", "train_acc"})
    CHECK(ema.rows[1][ema.require_column(column)] == plain.rows[1][plain.require_column(column)]);
  const size_t val_loss = ema.require_column("val_loss");
  CHECK(ema.rows[1][val_loss] != plain.rows[1][val_loss]);
  CHECK(fs::exists(averaged + "/metrics.json"));

  // Stopped after epoch 1 and resumed (the average comes back from last.safetensors): the same
  // run, with the precise statistics re-estimated for the averaged weights too.
  const std::string whole = out_dir("simple_ema_bn"), resumed = out_dir("simple_ema_bn_resumed");
  const std::string flags = kTiny + " --epochs 2 --ema 0.9 --precise-bn on";
  REQUIRE(run_tool("train_simple", flags + " --out '" + whole + "'").exit_code == 0);
  REQUIRE(run_tool("train_simple", flags + " --stop-after 1 --out '" + resumed + "'").exit_code ==
          0);
  const RunResult second = run_tool("train_simple", "--resume '" + resumed + "/last.safetensors'");
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(history_without_timing(resumed) == history_without_timing(whole));
  CHECK(read_text_file(resumed + "/predictions.csv") == read_text_file(whole + "/predictions.csv"));

  const RunResult bad = run_tool("train_simple", kTiny + " --ema 1");
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("--ema must be in [0, 1)") != std::string::npos);
}

TEST_CASE("train_simple --tta flip: a finished run re-evaluated with the mirror, not retrained") {
  if (!have_busi() || !have_tool("train_simple")) return;
  REQUIRE(simple_reference().exit_code == 0);
  const std::string dir = out_dir("simple_tta");
  const RunResult run =
      run_tool("train_simple", "--resume '" + out_dir("simple") +
                                   "/last.safetensors' --tta flip --out '" + dir + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("already finished") != std::string::npos);
  CHECK(run.output.find("test-time flip: each validation and test image averaged") !=
        std::string::npos);
  CHECK(history_without_timing(dir) == history_without_timing(out_dir("simple")));
  CHECK(read_json_file(dir + "/metrics.json").at("test_time_flip").as_bool());
  CHECK_FALSE(read_json_file(out_dir("simple") + "/metrics.json").at("test_time_flip").as_bool());
  // The same images and labels, other probabilities (each averaged with its mirror's).
  const CsvTable plain = read_csv(out_dir("simple") + "/predictions.csv");
  const CsvTable flipped = read_csv(dir + "/predictions.csv");
  REQUIRE(plain.rows.size() == flipped.rows.size());
  const size_t path = plain.require_column("path"), prob = plain.require_column("prob_benign");
  int changed = 0;
  for (size_t i = 0; i < plain.rows.size(); ++i) {
    CHECK(plain.rows[i][path] == flipped.rows[i][path]);
    changed += plain.rows[i][prob] != flipped.rows[i][prob];
  }
  CHECK(changed > 0);
  // predict says when its decision would not be the one the run validated (calibrated with the
  // mirror averaged in), and is silent when it is.
  if (!have_tool("predict")) return;
  const std::string image = kBusi + "/benign/benign (10).png";
  const RunResult plain_predict = run_tool("predict", "--checkpoint '" + dir + "' '" + image + "'");
  INFO(plain_predict.output);
  CHECK(plain_predict.exit_code == 0);
  CHECK(plain_predict.output.find("give --tta flip to decide as it was validated") !=
        std::string::npos);
  const RunResult flip_predict =
      run_tool("predict", "--checkpoint '" + dir + "' --tta flip '" + image + "'");
  CHECK(flip_predict.exit_code == 0);
  CHECK(flip_predict.output.find("give --tta flip") == std::string::npos);
}

TEST_CASE("resume with more epochs extends a finished run") {
  if (!have_busi() || !have_tool("train_simple")) return;
  const std::string dir = out_dir("simple_extended");
  REQUIRE(run_tool("train_simple", kTiny + " --epochs 1 --out '" + dir + "'").exit_code == 0);
  const RunResult more =
      run_tool("train_simple", "--resume '" + dir + "/last.safetensors' --epochs 2");
  INFO(more.output);
  REQUIRE(more.exit_code == 0);
  const CsvTable history = read_csv(dir + "/history.csv");
  REQUIRE(history.rows.size() == 2);
  CHECK(history.integer(1, 0) == 2);
}

TEST_CASE("a fresh run into an earlier run's folder replaces its outputs") {
  if (!have_busi() || !have_tool("train_simple")) return;
  const std::string dir = out_dir("simple_twice");
  REQUIRE(run_tool("train_simple", kTiny + " --epochs 2 --out '" + dir + "'").exit_code == 0);
  const RunResult again = run_tool("train_simple", kTiny + " --epochs 1 --out '" + dir + "'");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(again.output.find("held an earlier run") != std::string::npos);
  const CsvTable history = read_csv(dir + "/history.csv");
  REQUIRE(history.rows.size() == 1);  // not the 2 rows of the first run plus 1
  CHECK(read_json_file(dir + "/metrics.json").at("epochs_run").as_int() == 1);
}

TEST_CASE("resuming a run that stopped early trains no further epoch") {
  if (!have_busi() || !have_tool("train_simple")) return;
  // With a negligible learning rate the validation score cannot improve after epoch 1, so
  // patience 1 ends the 6-epoch run after epoch 2, every time.
  const std::string dir = out_dir("simple_early");
  const RunResult first =
      run_tool("train_simple", kTiny + " --epochs 6 --patience 1 --lr 1e-9 --out '" + dir + "'");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(first.output.find("early stopping") != std::string::npos);
  const auto rows = history_without_timing(dir);
  REQUIRE(rows.size() == 2);
  // As after a crash during the test evaluation: resume from the last checkpoint.
  const RunResult resumed = run_tool("train_simple", "--resume '" + dir + "/last.safetensors'");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.output.find("already finished") != std::string::npos);
  CHECK(history_without_timing(dir) == rows);
  CHECK(fs::exists(dir + "/metrics.json"));
}

TEST_CASE("--all-folds trains every fold and summarises them") {
  if (!have_busi() || !have_tool("train_simple")) return;
  const std::string dir = out_dir("simple_folds");
  const RunResult run =
      run_tool("train_simple", kTiny + " --epochs 1 --folds 2 --all-folds --out '" + dir + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  std::vector<double> accuracies;
  std::vector<std::string> tested;
  for (const char* fold : {"/fold1", "/fold2"}) {
    CAPTURE(fold);
    for (const char* file : {"config.json", "split.csv", "history.csv", "metrics.json"})
      CHECK(fs::exists(dir + fold + "/" + file));
    accuracies.push_back(
        read_json_file(dir + fold + "/metrics.json").at("test").at("accuracy").as_number());
    const CsvTable split = read_csv(dir + fold + "/split.csv");
    for (const auto& row : split.rows)
      if (row[2] == "test") tested.push_back(row[0]);
  }
  // The two test folds partition the 24 images.
  std::sort(tested.begin(), tested.end());
  CHECK(tested.size() == 24);
  CHECK(std::adjacent_find(tested.begin(), tested.end()) == tested.end());
  const Json summary = read_json_file(dir + "/metrics.json");
  CHECK(summary.at("folds").as_int() == 2);
  CHECK(summary.at("fold_metrics").size() == 2);
  const Json& accuracy = summary.at("summary").at("accuracy");
  CHECK(accuracy.at("mean").as_number() == doctest::Approx((accuracies[0] + accuracies[1]) / 2));
  CHECK(accuracy.at("std").as_number() ==
        doctest::Approx(std::abs(accuracies[0] - accuracies[1]) / std::sqrt(2.0)));
}

TEST_CASE("--skip-bad drops an image that cannot be decoded; without it the error names it") {
  if (!have_busi() || !have_tool("train_simple")) return;
  // A data folder of links to 8 BUSI images per class, plus a truncated PNG among the benign.
  const fs::path data = scratch() / "data_with_bad_file";
  for (const char* name : {"benign", "malignant", "normal"}) {
    fs::create_directories(data / name);
    int linked = 0;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(fs::path(kBusi) / name))
      files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      if (linked++ == 8) break;
      fs::create_symlink(file, data / name / file.filename());
    }
  }
  {
    const fs::path good = fs::path(kBusi) / "benign" / "benign (1).png";
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(data / "benign" / "benign (zz truncated).png", std::ios::binary)
        << bytes.substr(0, bytes.size() / 3);  // the header is intact, the pixels are cut
  }
  const std::string args = " --img-size 32 --device cpu --workers 1 --epochs 1 --data '" +
                           data.string() + "' --out '" + out_dir("skip_bad") + "'";
  const RunResult strict = run_tool("train_simple", args);
  INFO(strict.output);
  CHECK(strict.exit_code != 0);
  CHECK(strict.output.find("benign (zz truncated).png") != std::string::npos);
  const RunResult lenient = run_tool("train_simple", args + " --skip-bad");
  INFO(lenient.output);
  REQUIRE(lenient.exit_code == 0);
  CHECK(lenient.output.find("warning: skipped") != std::string::npos);
  CHECK(lenient.output.find("1 bad file") != std::string::npos);
  CHECK(read_csv(out_dir("skip_bad") + "/split.csv").rows.size() == 24);
}

// ---- Bad input ----------------------------------------------------------------------------------

TEST_CASE("bad input gives a clear error and a non-zero exit") {
  if (!have_busi() || !have_tool("train_simple") || !have_tool("finetune_vgg")) return;

  SUBCASE("missing data folder") {
    for (const char* tool : {"train_simple", "finetune_vgg"}) {
      const RunResult r = run_tool(
          tool, kTiny + " --epochs 1 --data /no/such/busi --out '" + out_dir("nodata") + "'");
      INFO(r.output);
      CHECK(r.exit_code != 0);
      CHECK(r.output.find("/no/such/busi") != std::string::npos);
      CHECK(r.output.find("missing") != std::string::npos);
    }
  }
  SUBCASE("missing weights: the error says how to make the file") {
    const RunResult r = run_tool("finetune_vgg", kTiny +
                                                     " --epochs 1 --weights /no/vgg16.safetensors"
                                                     " --out '" +
                                                     out_dir("noweights") + "'");
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("/no/vgg16.safetensors") != std::string::npos);
    CHECK(r.output.find("build/tools/convert_weights --from torchvision") != std::string::npos);
    CHECK(r.output.find("scripts/get_weights.sh torchvision") != std::string::npos);
    CHECK_FALSE(fs::exists(out_dir("noweights") + "/split.csv"));  // nothing done before
  }
  SUBCASE("unwritable output folder") {
    const std::string blocker = out_dir("a_file");
    std::ofstream(blocker) << "not a folder\n";
    for (const char* tool : {"train_simple", "finetune_vgg"}) {
      const RunResult r = run_tool(tool, kTiny + " --epochs 1 --out '" + blocker + "/run'");
      INFO(r.output);
      CHECK(r.exit_code != 0);
      CHECK(r.output.find("output folder '" + blocker + "/run'") != std::string::npos);
    }
  }
  SUBCASE("a checkpoint of the other model") {
    REQUIRE(simple_reference().exit_code == 0);
    REQUIRE(vgg_reference().exit_code == 0);
    const RunResult r1 =
        run_tool("train_simple", "--resume '" + out_dir("vgg") + "/last.safetensors'");
    INFO(r1.output);
    CHECK(r1.exit_code != 0);
    CHECK(r1.output.find("is for model 'vgg16'") != std::string::npos);
    const RunResult r2 =
        run_tool("finetune_vgg", "--resume '" + out_dir("simple") + "/last.safetensors'");
    INFO(r2.output);
    CHECK(r2.exit_code != 0);
    CHECK(r2.output.find("is for model 'simple_cnn'") != std::string::npos);
  }
  SUBCASE("unknown flag and bad value: usage errors (exit 2)") {
    const RunResult r1 = run_tool("train_simple", "--epoch 3");
    CHECK(r1.exit_code == 2);
    CHECK(r1.output.find("unknown flag '--epoch'") != std::string::npos);
    const RunResult r2 = run_tool("finetune_vgg", "--unfreeze-from block9");
    CHECK(r2.exit_code == 2);
    CHECK(r2.output.find("block9") != std::string::npos);
  }
}
