// compare: trains SimpleCNN (train_simple) and VGG16 (finetune_vgg) on the same grouped,
// stratified folds (5-fold cross-validation by default; --quick: one train/val/test split), then
// writes report.html, report.md and results.json; --from rebuilds the report only.
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "kernels/common/error.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/compare/cv_runner.h"
#include "tools/compare/external_scoring.h"
#include "tools/compare/gradcam_panel.h"
#include "tools/compare/subprocess.h"
#include "tools/formats/text_file.h"
#include "tools/report/report.h"
#include "tools/run_folder/run_dir.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

// The settings of compare itself; the trainer flags are passed through only when given, so
// that each trainer's preset decides the rest.
struct CompareSettings {
  std::string data, out, device = "auto", preset, weights;
  // Two repeats: on 651 BUSI images and models near 0.70 accuracy, one repeat's pooled accuracy
  // interval is +-0.042; averaging a second repeat's predictions on the same images gives +-0.038
  // and +-0.039 (docs/results.md, 2026-12-05 evening). Each repeat costs what one did.
  int64_t seed = 42, folds = 5, repeats = 2;
  int epochs_simple = 0, epochs_vgg = 0, img_size = 0, limit_per_class = 0;
  int bootstrap_rounds = 1000;
  std::string tta = "off";
  bool from = false, quick = false, ablation = false;
  std::vector<std::string> from_dirs, external;
};

void define_flags(CommandLine& cli, CompareSettings& s) {
  cli.add("--data", &s.data, "DIR", "BUSI image folder (one subfolder per class)");
  cli.add("--out", &s.out, "DIR", "output folder");
  cli.set_default_text("--out", "runs/compare-<timestamp>");
  cli.add_choice("--device", &s.device, {"auto", "cpu", "cuda"}, "where to train");
  cli.add("--seed", &s.seed, "S", "seed of both trainers (split, initialisation, shuffling)");
  cli.add_choice("--preset", &s.preset, {"cpu-quick", "gpu-full"}, "trainer recipe");
  cli.set_default_text("--preset", "gpu-full on a GPU, else cpu-quick");
  cli.add("--weights", &s.weights, "PATH", "VGG16 ImageNet weights for finetune_vgg");
  cli.add("--epochs-simple", &s.epochs_simple, "N", "SimpleCNN epochs");
  cli.add("--epochs-vgg", &s.epochs_vgg, "N", "VGG16 epochs");
  cli.add("--img-size", &s.img_size, "N", "image side in pixels");
  cli.add("--limit-per-class", &s.limit_per_class, "N",
          "use at most N images per class (tiny runs for tests)");
  for (const char* flag : {"--epochs-simple", "--epochs-vgg", "--img-size"})
    cli.set_default_text(flag, "the preset's");
  cli.set_default_text("--limit-per-class", "all images");
  cli.set_default_text("--weights", "finetune_vgg's");
  cli.set_default_text("--data", "the trainers'");
  cli.add("--folds", &s.folds, "K", "cross-validation folds (every image tested once)");
  cli.add("--repeats", &s.repeats, "R",
          "cross-validation repeats, each with other folds (seed, seed + 1, ...); the pooled "
          "test metrics are their means on the same images (narrower intervals). A finished "
          "comparison takes more: start it again with a larger --repeats");
  cli.add_switch("--quick", &s.quick,
                 "one stratified train/val/test split instead of cross-validation: a fast look");
  cli.add_switch("--ablation", &s.ablation,
                 "also VGG16 from random weights (--init random, --augment off) on the same "
                 "folds: what the ImageNet weights contribute");
  cli.add_repeated("--external", &s.external, "DIR",
                   "after the folds, score both fold ensembles on this labelled folder (class "
                   "sub-folders, as the training data) that took no part in training; "
                   "repeatable. Its near-duplicates of training images are scored apart");
  cli.add_choice("--tta", &s.tta, {"off", "flip"},
                 "test-time augmentation of the --external scores: flip averages in each "
                 "image's mirror");
  cli.add("--bootstrap-rounds", &s.bootstrap_rounds, "N",
          "bootstrap resamples for the report's confidence intervals");
  cli.add_switch("--from", &s.from,
                 "rebuild the report only: from a compare folder (its compare.json), or from two "
                 "run folders DIR_A DIR_B");
  cli.allow_positionals(&s.from_dirs, "DIR | DIR_A DIR_B", "the folders given with --from");
  cli.set_epilog(
      "Cross-validation (the default): for each fold, train_simple makes the fold's grouped,\n"
      "stratified split and trains SimpleCNN, then finetune_vgg trains VGG16 on that split\n"
      "(and with --ablation a VGG16 from random weights), each in OUT/repeat<r>/fold<k>/<model>;\n"
      "the report pools the out-of-fold predictions and tests the difference over the folds.\n"
      "A killed run continues where it stopped when started again with the same --out.\n"
      "--quick: one split, OUT/simple_cnn and OUT/vgg16 as before. The report: OUT/report.html\n"
      "(self-contained, opens offline), OUT/report.md and OUT/results.json.\n"
      "\nexamples:\n"
      "  compare                                   # 5-fold comparison with the preset for this "
      "machine\n"
      "  compare --quick                           # one split, a fast look\n"
      "  compare --out runs/compare-X              # continue a killed comparison\n"
      "  compare --limit-per-class 10 --img-size 32 --epochs-simple 1 --epochs-vgg 2 --folds 3\n"
      "  compare --from runs/compare-X             # the report again, no training\n"
      "  compare --from runs/x/simple_cnn runs/x/vgg16\n");
}

void run_step(int step, const std::string& what, const std::vector<std::string>& args) {
  std::cout << "\n== compare " << step << "/3: " << what << "\n   " << shell_line(args) << "\n"
            << std::endl;
  const int status = run_program(args);
  BUSI_CHECK(status == 0, fs::path(args[0]).filename().string(), " failed (exit status ", status,
             "); its messages are above");
}

// The flags both trainers share, only those the user gave (plus seed and device, always).
std::vector<std::string> shared_trainer_flags(const CommandLine& cli, const CompareSettings& s) {
  std::vector<std::string> flags = {"--device", s.device, "--seed", std::to_string(s.seed)};
  if (cli.given("--data")) flags.insert(flags.end(), {"--data", s.data});
  if (cli.given("--preset")) flags.insert(flags.end(), {"--preset", s.preset});
  if (cli.given("--img-size"))
    flags.insert(flags.end(), {"--img-size", std::to_string(s.img_size)});
  if (cli.given("--limit-per-class"))
    flags.insert(flags.end(), {"--limit-per-class", std::to_string(s.limit_per_class)});
  return flags;
}

void train_both(const CommandLine& cli, const CompareSettings& s, const std::string& dir_a,
                const std::string& dir_b) {
  const std::vector<std::string> shared = shared_trainer_flags(cli, s);
  std::vector<std::string> simple = {sibling_tool("train_simple"), "--out", dir_a};
  std::vector<std::string> vgg = {sibling_tool("finetune_vgg"), "--out", dir_b};
  simple.insert(simple.end(), shared.begin(), shared.end());
  vgg.insert(vgg.end(), shared.begin(), shared.end());
  if (cli.given("--epochs-simple"))
    simple.insert(simple.end(), {"--epochs", std::to_string(s.epochs_simple)});
  if (cli.given("--epochs-vgg")) vgg.insert(vgg.end(), {"--epochs", std::to_string(s.epochs_vgg)});
  if (cli.given("--weights")) vgg.insert(vgg.end(), {"--weights", s.weights});

  run_step(1, "SimpleCNN from scratch", simple);
  // VGG16 reads the split the first run wrote, so both are tested on the very same images.
  const std::string split = (fs::path(dir_a) / "split.csv").string();
  BUSI_CHECK(fs::is_regular_file(split), split, ": missing after train_simple finished");
  vgg.insert(vgg.end(), {"--split-csv", split});
  run_step(2, "VGG16 fine-tuned from ImageNet weights", vgg);
}

void print_report_files(const ReportFiles& files) {
  std::cout << "   " << files.html << "\n   " << files.markdown << "\n   " << files.json << "\n";
}

// --from's default output: the folder holding both run folders, else a new compare folder.
std::string default_report_dir(const std::string& dir_a, const std::string& dir_b) {
  const fs::path parent_a = fs::absolute(dir_a).lexically_normal().parent_path();
  const fs::path parent_b = fs::absolute(dir_b).lexically_normal().parent_path();
  if (parent_a == parent_b) return fs::path(dir_a).lexically_normal().parent_path().string();
  return default_run_dir("compare");
}

// What the models look at: a few test images beside both models' Grad-CAM maps, into the
// compare folder. A failure here costs the panel, not the report.
void write_panel(const CvPlan& plan, const std::string& device) {
  try {
    std::cout << "\n== compare: Grad-CAM panel: "
              << write_gradcam_panel(plan, choose_device(device)) << "\n";
  } catch (const Error& e) {
    std::cerr << "compare: warning: no Grad-CAM panel: " << e.what() << "\n";
  }
}

// The trainer flags compare passes on (those given), as compare.json records them: a comparison
// continued with other values would mix two experiments.
Json trainer_flags_json(const CommandLine& cli, const CompareSettings& s) {
  Json j = Json::object();
  if (cli.given("--data")) j["data"] = s.data;
  if (cli.given("--preset")) j["preset"] = s.preset;
  if (cli.given("--weights")) j["weights"] = s.weights;
  if (cli.given("--epochs-simple")) j["epochs_simple"] = s.epochs_simple;
  if (cli.given("--epochs-vgg")) j["epochs_vgg"] = s.epochs_vgg;
  if (cli.given("--img-size")) j["img_size"] = s.img_size;
  if (cli.given("--limit-per-class")) j["limit_per_class"] = s.limit_per_class;
  return j;
}

// The plan of the cross-validation in s.out: written on the first start; on a later one it must
// be the same (then the runs already finished are kept), except that --repeats may grow: repeat r
// always uses seed + r - 1, so the repeats already run are those a larger plan would have run.
CvPlan cross_validation_plan(const CommandLine& cli, const CompareSettings& s) {
  CvPlan plan;
  plan.out = s.out;
  plan.folds = s.folds;
  plan.repeats = s.repeats;
  plan.seed = static_cast<uint64_t>(s.seed);
  if (s.ablation) plan.models.push_back("vgg16_random");
  plan.flags = trainer_flags_json(cli, s);
  const std::string path = (fs::path(s.out) / kPlanFile).string();
  if (!fs::exists(path)) {
    write_text_file(path, plan_to_json(plan).dump(2) + "\n");
    return plan;
  }
  const CvPlan earlier = plan_from_json(read_json_file(path), s.out, path);
  if (earlier.folds != plan.folds || earlier.repeats > plan.repeats || earlier.seed != plan.seed ||
      earlier.models != plan.models || earlier.flags.dump() != plan.flags.dump())
    throw UsageError(s.out + " holds a comparison with other settings (" + path + ": " +
                     plan_to_json(earlier).dump() +
                     "); continue it with those (--repeats may grow), or give another --out");
  if (earlier.repeats < plan.repeats) {
    std::cout << "compare: extending " << s.out << " from " << earlier.repeats << " to "
              << plan.repeats << " repeats; the runs of the first " << earlier.repeats
              << " are kept\n";
    write_text_file(path, plan_to_json(plan).dump(2) + "\n");
  }
  return plan;
}

// The command of one fold's run of `model`: SimpleCNN makes the fold's split from the repeat's
// seed; the VGG16 runs read it, so every model is tested on the same images.
std::vector<std::string> fold_command(const CommandLine& cli, const CompareSettings& s,
                                      const CvPlan& plan, int64_t repeat, int64_t fold,
                                      const std::string& model) {
  CompareSettings r = s;
  r.seed = static_cast<int64_t>(plan.seed_of(repeat));
  std::vector<std::string> args = {
      sibling_tool(model == "simple_cnn" ? "train_simple" : "finetune_vgg"), "--out",
      plan.fold_dir(repeat, fold, model)};
  const std::vector<std::string> shared = shared_trainer_flags(cli, r);
  args.insert(args.end(), shared.begin(), shared.end());
  if (model == "simple_cnn") {
    args.insert(args.end(),
                {"--folds", std::to_string(plan.folds), "--fold", std::to_string(fold)});
    if (cli.given("--epochs-simple"))
      args.insert(args.end(), {"--epochs", std::to_string(s.epochs_simple)});
    return args;
  }
  const std::string split =
      (fs::path(plan.fold_dir(repeat, fold, "simple_cnn")) / "split.csv").string();
  BUSI_CHECK(fs::is_regular_file(split), split, ": missing (fold ", fold,
             "'s SimpleCNN run writes it first)");
  args.insert(args.end(), {"--split-csv", split});
  if (cli.given("--epochs-vgg"))
    args.insert(args.end(), {"--epochs", std::to_string(s.epochs_vgg)});
  if (cli.given("--weights")) args.insert(args.end(), {"--weights", s.weights});
  // The ImageNet run trains on cached features of its frozen layers, which rules out
  // augmentation; the random run has nothing frozen and would be augmented unless told, so the
  // ablation would change two things at once.
  if (model == "vgg16_random") args.insert(args.end(), {"--init", "random", "--augment", "off"});
  return args;
}

int compare_main(int argc, char** argv) {
  CompareSettings s;
  CommandLine cli("compare",
                  "Trains SimpleCNN and VGG16 on the same BUSI split and seed and "
                  "writes a comparison report (HTML, Markdown, JSON).");
  define_flags(cli, s);
  if (!cli.parse(argc, argv)) return 0;

  if (s.bootstrap_rounds < 0) throw UsageError("--bootstrap-rounds: must be 0 or more");
  if (s.folds < 2) throw UsageError("--folds must be at least 2");
  if (s.repeats < 1) throw UsageError("--repeats must be at least 1");
  ReportOptions options;
  options.bootstrap_rounds = s.bootstrap_rounds;

  if (s.from) {
    for (const char* flag : {"--data", "--preset", "--weights", "--epochs-simple", "--epochs-vgg",
                             "--img-size", "--limit-per-class", "--seed", "--device", "--folds",
                             "--repeats", "--quick", "--ablation", "--external", "--tta"})
      if (cli.given(flag))
        throw UsageError(std::string(flag) +
                         " is a training flag; --from only rebuilds the report");
    if (s.from_dirs.size() == 1) {  // a cross-validated comparison's folder
      const std::string path = (fs::path(s.from_dirs[0]) / kPlanFile).string();
      BUSI_CHECK(fs::is_regular_file(path), path,
                 ": missing (--from DIR takes a compare folder; "
                 "two run folders: --from DIR_A DIR_B)");
      const CvPlan plan = plan_from_json(read_json_file(path), s.from_dirs[0], path);
      // A comparison from before the panel existed gets one (the fold checkpoints are there).
      if (!fs::exists(fs::path(plan.out) / kGradcamPanelFile)) write_panel(plan, "auto");
      // --out: the report goes there; the fold runs are still read from DIR.
      const std::string out = cli.given("--out") ? s.out : plan.out;
      prepare_run_dir(out);
      print_report_files(write_cv_report(plan, options, out));
      return 0;
    }
    if (s.from_dirs.size() != 2)
      throw UsageError("--from needs a compare folder, or two run folders: --from DIR_A DIR_B");
    const std::string dir_a = s.from_dirs[0], dir_b = s.from_dirs[1];
    if (!cli.given("--out")) s.out = default_report_dir(dir_a, dir_b);
    prepare_run_dir(s.out);
    print_report_files(write_comparison_report(dir_a, dir_b, s.out, options));
    return 0;
  }
  if (!s.from_dirs.empty())
    throw UsageError("unexpected argument '" + s.from_dirs[0] + "' (folders go with --from)");
  if (!cli.given("--out")) s.out = default_run_dir("compare");
  prepare_run_dir(s.out);  // fails now, not after hours of training, if OUT is not writable

  if (s.quick) {
    if (s.ablation) throw UsageError("--ablation runs on the folds: leave out --quick");
    if (!s.external.empty())
      throw UsageError("--external scores the fold ensembles: leave out --quick");
    for (const char* flag : {"--folds", "--repeats"})
      if (cli.given(flag))
        throw UsageError(std::string(flag) +
                         " goes with cross-validation, "
                         "not --quick");
    const std::string dir_a = (fs::path(s.out) / "simple_cnn").string();
    const std::string dir_b = (fs::path(s.out) / "vgg16").string();
    train_both(cli, s, dir_a, dir_b);
    std::cout << "\n== compare 3/3: report from " << dir_a << " and " << dir_b << "\n";
    print_report_files(write_comparison_report(dir_a, dir_b, s.out, options));
    return 0;
  }

  const CvPlan plan = cross_validation_plan(cli, s);
  std::cout << "compare: " << plan.folds << "-fold cross-validation"
            << (plan.repeats > 1 ? ", " + std::to_string(plan.repeats) + " repeats" : "") << " of "
            << plan.models.size() << " models in " << plan.out << "\n";
  run_cross_validation(plan, [&](int64_t repeat, int64_t fold, const std::string& model) {
    return fold_command(cli, s, plan, repeat, fold, model);
  });
  if (!s.external.empty()) {
    const Device device = choose_device(s.device);
    ExternalOptions external;
    external.bootstrap_rounds = s.bootstrap_rounds;
    external.flip = s.tta == "flip";
    for (const std::string& folder : s.external)
      std::cout << "   " << score_external_folder(plan, folder, device, external) << "\n";
  }
  write_panel(plan, s.device);
  std::cout << "\n== compare: report from the out-of-fold predictions of " << plan.out << "\n";
  print_report_files(write_cv_report(plan, options));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("compare", compare_main, argc, argv); }
