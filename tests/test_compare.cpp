// End-to-end tests of build/tools/compare on a tiny setting (10 images per class from
// ../shared/busi, 32 x 32 pixels, a few epochs on the CPU): --quick (one split) and the default
// cross-validation (3 folds here): both trainers run, the report files hold the promised content,
// --from rebuilds the same numbers, a comparison killed in fold 2 resumes and ends as an
// uninterrupted one, and bad input gives clear errors.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"

using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const fs::path kTools = fs::path(BUSI_BINARY_DIR) / "tools";
const fs::path kWork = fs::path(BUSI_BINARY_DIR) / "test_compare_tmp";

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs build/tools/compare with `args` (already shell-quoted where needed).
Outcome run_compare(const std::string& args) {
  const fs::path log = kWork / "compare.log";
  std::string command = "'";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "'" + ...
  command.append((kTools / "compare").string()).append("' ").append(args);
  command.append(" > '").append(log.string()).append("' 2>&1");
  const int raw = std::system(command.c_str());
  Outcome out;
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  out.output = fs::exists(log) ? read_text_file(log.string()) : "";
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Why the end-to-end run cannot happen here, or "" when it can.
std::string missing_prerequisite() {
  for (const char* tool : {"compare", "train_simple", "finetune_vgg"})
    if (!fs::exists(kTools / tool))
      return (kTools / tool).string() + " is not built (cmake --build build)";
  if (!fs::is_directory(fs::path(BUSI_SHARED_DIR) / "busi"))
    return std::string(BUSI_SHARED_DIR) + "/busi not found";
  const bool weights =
      fs::exists(fs::path(BUSI_SOURCE_DIR) / "weights" / "vgg16_imagenet.safetensors") ||
      fs::exists(fs::path(BUSI_SHARED_DIR) / "weights" / "vgg16_torchvision_partial.safetensors");
  if (!weights) return "no VGG16 ImageNet weights file (weights/README.md)";
  return "";
}

void check_run_folder(const fs::path& dir) {
  for (const char* file : {"config.json", "split.csv", "history.csv", "predictions.csv",
                           "metrics.json", "best.safetensors", "last.safetensors"})
    CHECK_MESSAGE(fs::is_regular_file(dir / file), (dir / file).string(), " missing");
}

}  // namespace

TEST_CASE("compare: both trainers end to end on a tiny setting, then the report") {
  const std::string why_not = missing_prerequisite();
  if (!why_not.empty()) {
    MESSAGE("skipping the end-to-end compare test: " << why_not);
    return;
  }
  fs::remove_all(kWork);
  fs::create_directories(kWork);
  const fs::path out = kWork / "run";
  const Outcome run = run_compare("--quick --data '" + std::string(BUSI_SHARED_DIR) +
                                  "/busi' --limit-per-class 10 --img-size 32 --epochs-simple 1 "
                                  "--epochs-vgg 2 --device cpu --bootstrap-rounds 100 --out '" +
                                  out.string() + "'");
  INFO(run.output);
  REQUIRE(run.status == 0);

  const fs::path dir_a = out / "simple_cnn", dir_b = out / "vgg16";
  check_run_folder(dir_a);
  check_run_folder(dir_b);
  for (const char* file : {"report.html", "report.md", "results.json"})
    REQUIRE(fs::is_regular_file(out / file));
  CHECK(contains(run.output, "compare 1/3"));  // both steps announced, trainers' output streamed
  CHECK(contains(run.output, "compare 2/3"));
  CHECK(contains(run.output, "--split-csv"));

  // The same split, hence the same test images, for both models.
  const CsvTable split_a = read_csv((dir_a / "split.csv").string());
  const CsvTable split_b = read_csv((dir_b / "split.csv").string());
  CHECK(split_a.rows == split_b.rows);
  const CsvTable pred_a = read_csv((dir_a / "predictions.csv").string());
  const CsvTable pred_b = read_csv((dir_b / "predictions.csv").string());
  REQUIRE(!pred_a.rows.empty());
  CHECK(pred_a.rows.size() == pred_b.rows.size());

  const Json results = read_json_file((out / "results.json").string());
  const Json& models = results.at("models");
  REQUIRE(models.size() == 2);
  CHECK(models[0].at("name").as_string() == "SimpleCNN");
  CHECK(models[1].at("name").as_string() == "VGG16");
  for (const Json& m : models.elements()) {
    const Json& test = m.at("test");
    for (const char* key : {"accuracy", "balanced_accuracy", "macro_f1", "macro_auc",
                            "accuracy_ci95", "macro_f1_ci95", "per_class", "confusion_matrix"})
      CHECK_MESSAGE(test.contains(key), "results.json: test." << key << " missing");
    CHECK(test.at("n").as_int() == static_cast<int64_t>(pred_a.rows.size()));
    CHECK(m.at("parameters").as_int() > 0);
    CHECK(m.at("training_seconds").as_number() > 0);
  }
  const Json& comparison = results.at("comparison");
  const int64_t paired = comparison.at("paired_test_images").as_int();
  CHECK(paired == static_cast<int64_t>(pred_a.rows.size()));
  const Json& mc = comparison.at("mcnemar");
  CHECK(mc.at("both_right").as_int() + mc.at("a_right_b_wrong").as_int() +
            mc.at("a_wrong_b_right").as_int() + mc.at("both_wrong").as_int() ==
        paired);
  CHECK(mc.at("p_value_exact").as_number() > 0.0);
  CHECK(mc.at("p_value_exact").as_number() <= 1.0);

  const std::string html = read_text_file((out / "report.html").string());
  CHECK(contains(html, "<svg"));
  CHECK(contains(html, "SimpleCNN"));
  CHECK(contains(html, "VGG16"));
  CHECK(contains(html, "McNemar's exact test: b = "));
  CHECK(contains(html, "ImageNet weights: "));
  CHECK(contains(html, " of 13 conv layers"));
  CHECK(contains(html, "<td>Macro-F1</td>"));
  const std::string md = read_text_file((out / "report.md").string());
  CHECK(contains(md, "## McNemar's test"));
  CHECK(contains(md,
                 "## Data split\n\nGrouped by near-duplicates (fine >= 0.40, or plain >= 0.93 "
                 "under any of five thumbnail filters, or plain >= 0.92 with fine >= 0.35)"));
  CHECK(contains(md, "no group in two subsets."));
  CHECK(contains(html, "Grouped by near-duplicates"));
  if (std::system("python3 --version > /dev/null 2>&1") == 0) {
    const std::string check = "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '" +
                              (out / "results.json").string() + "'";
    CHECK(std::system(check.c_str()) == 0);
  } else {
    MESSAGE("python3 not found: results.json checked with the engine's own parser only");
  }

  // (Plain blocks, not SUBCASEs: doctest would rerun the training once per subcase.)
  {  // --from rebuilds the report with the same numbers, without training
    const fs::path again = kWork / "again";
    const Outcome rebuilt = run_compare("--from '" + dir_a.string() + "' '" + dir_b.string() +
                                        "' --bootstrap-rounds 100 --out '" + again.string() + "'");
    INFO(rebuilt.output);
    REQUIRE(rebuilt.status == 0);
    CHECK(!contains(rebuilt.output, "compare 1/3"));  // no training
    const Json second = read_json_file((again / "results.json").string());
    CHECK(second.at("comparison").dump() == comparison.dump());
    CHECK(second.at("models")[1].at("test").dump() == models[1].at("test").dump());
  }

  {  // bad input: clear errors
    Outcome bad = run_compare("--from '" + dir_a.string() + "' '" + (kWork / "nowhere").string() +
                              "' --out '" + (kWork / "x").string() + "'");
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "nowhere: no such folder"));

    bad = run_compare("--from '" + dir_a.string() + "' '" + out.string() + "' --out '" +
                      (kWork / "y").string() + "'");  // the compare folder is no run folder
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "predictions.csv: missing (is this a trainer run folder?)"));

    bad = run_compare("--from '" + dir_a.string() + "'");  // one folder: a compare folder
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "compare.json: missing (--from DIR takes a compare folder"));
    bad = run_compare("--from a b c");
    CHECK(bad.status == 2);
    CHECK(contains(bad.output, "--from needs a compare folder, or two run folders"));

    bad = run_compare("--from '" + dir_a.string() + "' '" + dir_b.string() +
                      "' --out /proc/busi-compare-test");
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "output folder '/proc/busi-compare-test'"));

    bad = run_compare("--data '" + (kWork / "no-data").string() + "' --device cpu --out '" +
                      (kWork / "z").string() + "'");
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "train_simple failed on fold 1"));
    CHECK(contains(bad.output, "no-data"));  // the trainer's own message names the folder

    bad = run_compare("--epochs-simple two");
    CHECK(bad.status == 2);
    bad = run_compare("--quick --ablation --out '" + (kWork / "q").string() + "'");
    CHECK(bad.status == 2);
    CHECK(contains(bad.output, "--ablation runs on the folds"));
    bad = run_compare("--folds 1 --out '" + (kWork / "f").string() + "'");
    CHECK(bad.status == 2);
  }
}

namespace {

// The tiny cross-validation both tests below run: 3 folds of 30 images.
std::string cv_args(const fs::path& out, int simple_epochs, int repeats = 1) {
  return "--data '" + std::string(BUSI_SHARED_DIR) +
         "/busi' --limit-per-class 10 --img-size 32 --epochs-simple " +
         std::to_string(simple_epochs) + " --epochs-vgg 2 --folds 3 --repeats " +
         std::to_string(repeats) + " --device cpu --bootstrap-rounds 100 --out '" + out.string() +
         "'";
}

// The prediction files of every fold's runs, by their path below `out`.
std::map<std::string, std::string> fold_predictions(const fs::path& out) {
  std::map<std::string, std::string> files;
  for (int k = 1; k <= 3; ++k)
    for (const char* model : {"simple_cnn", "vgg16"}) {
      const fs::path dir = out / "repeat1" / ("fold" + std::to_string(k)) / model;
      for (const char* name : {"predictions.csv", "split.csv"}) {
        const fs::path file = dir / name;
        files[fs::relative(file, out).string()] =
            fs::exists(file) ? read_text_file(file.string()) : "(missing)";
      }
    }
  return files;
}

}  // namespace

TEST_CASE("compare: cross-validation, every image tested once, the folds' statistics") {
  const std::string why_not = missing_prerequisite();
  if (!why_not.empty()) {
    MESSAGE("skipping the cross-validated compare test: " << why_not);
    return;
  }
  const fs::path out = kWork / "cv";
  fs::remove_all(out);
  fs::create_directories(kWork);
  const Outcome run = run_compare(cv_args(out, 2));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(contains(run.output, "== compare: fold 2 of 3: VGG16 (run 4 of 6)"));
  CHECK(contains(run.output, "left"));  // the time left, once a run has been timed
  const Json plan = read_json_file((out / "compare.json").string());
  CHECK(plan.at("folds").as_int() == 3);

  // Each fold: both models on the same split; the test folds partition the placed images.
  std::map<std::string, int> times_tested;
  int64_t placed = 0;
  for (int k = 1; k <= 3; ++k) {
    const fs::path fold = out / "repeat1" / ("fold" + std::to_string(k));
    check_run_folder(fold / "simple_cnn");
    check_run_folder(fold / "vgg16");
    const CsvTable split_a = read_csv((fold / "simple_cnn" / "split.csv").string());
    CHECK(split_a.rows == read_csv((fold / "vgg16" / "split.csv").string()).rows);
    const CsvTable pred_a = read_csv((fold / "simple_cnn" / "predictions.csv").string());
    const CsvTable pred_b = read_csv((fold / "vgg16" / "predictions.csv").string());
    CHECK(pred_a.rows.size() == pred_b.rows.size());
    for (const auto& row : pred_a.rows) ++times_tested[row[0]];
    if (k == 1)
      for (const auto& row : split_a.rows) placed += row[2] != "excluded";
  }
  CHECK(static_cast<int64_t>(times_tested.size()) == placed);
  for (const auto& [path, times] : times_tested) CHECK_MESSAGE(times == 1, path);

  const Json results = read_json_file((out / "results.json").string());
  const Json& cv = results.at("cross_validation");
  CHECK(cv.at("folds").as_int() == 3);
  CHECK(cv.at("per_fold").size() == 3);
  const Json& f1 = cv.at("corrected_t_tests").at("macro_f1");
  CHECK(f1.at("p_value").as_number() >= 0.0);
  CHECK(f1.at("p_value").as_number() <= 1.0);
  CHECK(f1.at("standard_error").as_number() > f1.at("naive_standard_error").as_number());
  CHECK(f1.at("minimum_detectable_80").as_number() > 0.0);
  CHECK(results.at("comparison").at("paired_test_images").as_int() == placed);
  CHECK(results.at("bootstrap").at("resamples").as_string() == "near-duplicate groups");
  const std::string md = read_text_file((out / "report.md").string());
  CHECK(contains(md, "## Cross-validation\n\n**Over 3 folds, VGG16's mean macro-F1 is"));
  CHECK(contains(md, "corrected resampled t-test"));
  CHECK(contains(md, "## Test metrics (pooled out-of-fold predictions)"));
  const std::string html = read_text_file((out / "report.html").string());
  CHECK(contains(html, "Macro-F1 per test fold"));
  CHECK(contains(html, "3-fold cross-validation"));
  // The Grad-CAM panel: out-of-fold test images of each class beside both models' maps, each
  // image tested in the fold whose models drew its maps.
  const Json panel = read_json_file((out / "gradcam" / "panel.json").string());
  REQUIRE(panel.at("rows").size() >= 3);
  for (const Json& row : panel.at("rows").elements()) {
    const std::string path = row.at("path").as_string();
    CHECK(times_tested.count(path) == 1);
    const fs::path fold_dir =
        out / "repeat1" / ("fold" + std::to_string(row.at("fold").as_int())) / "simple_cnn";
    CHECK(contains(read_text_file((fold_dir / "predictions.csv").string()), path));
    for (const char* model : {"simple_cnn", "vgg16"})
      CHECK(row.at(model).at("gradcam").as_string().rfind("data:image/png;base64,", 0) == 0);
  }
  CHECK(contains(html, "<section id=\"gradcam\"><h2>What the models look at</h2>"));
  CHECK(contains(html, "<img alt=\"Grad-CAM of VGG16\" src=\"data:image/png;base64,"));
  CHECK(contains(md, "## What the models look at"));

  // Started again with the same --out: every run is finished, nothing is trained again.
  const Outcome again = run_compare(cv_args(out, 2));
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(contains(again.output, "holds 6 of 6 finished runs"));
  CHECK(!contains(again.output, "epoch   1"));
  // With other settings it refuses to mix two experiments in one folder.
  const Outcome other = run_compare(cv_args(out, 3));
  CHECK(other.status == 2);
  CHECK(contains(other.output, "holds a comparison with other settings"));
  CHECK(contains(other.output, "--repeats may grow"));
  // --from OUT rebuilds the same figures.
  const Outcome rebuilt = run_compare("--from '" + out.string() + "' --bootstrap-rounds 100");
  INFO(rebuilt.output);
  CHECK(rebuilt.status == 0);
  const Json second = read_json_file((out / "results.json").string());
  CHECK(second.at("cross_validation").dump() == cv.dump());
  CHECK(second.at("comparison").dump() == results.at("comparison").dump());

  // --external: an external folder in the original release's layout (a *_mask.png beside each
  // image), holding a planted copy of a training image and images the comparison never used.
  const fs::path ext = kWork / "external_hospital";
  fs::remove_all(ext);
  const fs::path busi = fs::path(BUSI_SHARED_DIR) / "busi";
  const CsvTable split =
      read_csv((out / "repeat1" / "fold1" / "simple_cnn" / "split.csv").string());
  std::string planted;
  for (const auto& row : split.rows)
    if (row[2] != "excluded" && row[1] == "benign") {
      planted = row[0];
      break;
    }
  REQUIRE(!planted.empty());
  for (const char* cls : {"benign", "malignant", "normal"}) fs::create_directories(ext / cls);
  fs::copy_file(busi / planted, ext / "benign" / "copy of a training image.png");
  for (const auto& [cls, number] : std::vector<std::pair<std::string, int>>{
           {"benign", 300}, {"malignant", 150}, {"normal", 100}}) {
    const std::string name = cls + " (" + std::to_string(number) + ")";
    fs::copy_file(busi / cls / (name + ".png"), ext / cls / (name + ".png"));
    fs::copy_file(busi / cls / (name + ".png"), ext / cls / (name + "_mask.png"));  // skipped
  }
  const Outcome external = run_compare(cv_args(out, 2) + " --external '" + ext.string() + "'");
  INFO(external.output);
  REQUIRE(external.status == 0);
  const Json with_external = read_json_file((out / "results.json").string());
  const Json& doc = with_external.at("cross_validation").at("external")[0];
  CHECK(doc.at("images").as_int() == 4);  // the masks are not images of the folder
  bool found = false;
  for (const Json& seen : doc.at("seen").elements())
    found = found || seen.at("path").as_string() == "benign/copy of a training image.png";
  CHECK_MESSAGE(found, "the planted copy is not listed as seen: " << doc.at("seen").dump());
  for (const char* model : {"simple_cnn", "vgg16"}) {
    const Json& m = doc.at("models").at(model);
    CHECK(m.at("members").as_int() == 3);
    CHECK(m.at("all").at("n").as_int() == 4);
    CHECK(m.at("seen").at("n").as_int() == doc.at("seen_images").as_int());
  }
  CHECK(fs::exists(out / "external" / "external_hospital" / "predictions_vgg16.csv"));
  CHECK(contains(read_text_file((out / "report.md").string()), "### External test folder"));

  // A larger --repeats extends the finished comparison: repeat 1's runs are kept, repeat 2
  // trains on other folds (seed + 1), and the metric table averages the two repeats.
  const Outcome extended = run_compare(cv_args(out, 2, 2));
  INFO(extended.output);
  REQUIRE(extended.status == 0);
  CHECK(contains(extended.output, "extending"));
  CHECK(contains(extended.output, "holds 6 of 12 finished runs"));
  CHECK(contains(extended.output, "--seed 43"));
  CHECK(fs::is_regular_file(out / "repeat2" / "fold3" / "vgg16" / "predictions.csv"));
  const Json two = read_json_file((out / "results.json").string());
  CHECK(two.at("comparison").at("metric_table_repeats").as_int() == 2);
  CHECK(two.at("cross_validation").at("repeats").as_int() == 2);
  CHECK(contains(read_text_file((out / "report.md").string()), "means over 2 repeats"));
}

TEST_CASE("compare: a cross-validation killed in fold 2 resumes and ends as an uninterrupted one") {
  const std::string why_not = missing_prerequisite();
  if (!why_not.empty()) {
    MESSAGE("skipping the resume test: " << why_not);
    return;
  }
  fs::create_directories(kWork);
  const fs::path reference = kWork / "cv_reference", killed = kWork / "cv_killed";
  fs::remove_all(reference);
  fs::remove_all(killed);
  REQUIRE(run_compare(cv_args(reference, 8)).status == 0);

  // Started in a session of its own, so that compare and the trainer it runs are killed
  // together (SIGKILL: nothing is cleaned up), once fold 2's SimpleCNN has finished an epoch.
  const fs::path pid_file = kWork / "cv_killed.pid", log = kWork / "cv_killed.log";
  const std::string start = "setsid sh -c 'echo $$ > \"" + pid_file.string() + "\"; exec \"" +
                            (kTools / "compare").string() + "\" " + cv_args(killed, 8) + " > \"" +
                            log.string() + "\" 2>&1' &";
  REQUIRE(std::system(start.c_str()) == 0);
  const fs::path history = killed / "repeat1" / "fold2" / "simple_cnn" / "history.csv";
  const fs::path checkpoint = killed / "repeat1" / "fold2" / "simple_cnn" / "last.safetensors";
  bool reached = false;
  for (int i = 0; i < 6000 && !reached; ++i) {  // up to 2 minutes
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    reached = fs::exists(checkpoint) && fs::exists(history) &&
              read_csv(history.string()).rows.size() >= 1;
  }
  std::string pid = fs::exists(pid_file) ? read_text_file(pid_file.string()) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  REQUIRE(!pid.empty());
  CHECK(::kill(-static_cast<pid_t>(std::stol(pid)), SIGKILL) == 0);
  REQUIRE_MESSAGE(reached,
                  "fold 2 did not reach its first epoch: " << read_text_file(log.string()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(!fs::exists(killed / "repeat1" / "fold2" / "simple_cnn" / "metrics.json"));

  const Outcome resumed = run_compare(cv_args(killed, 8));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(contains(resumed.output, "holds 2 of 6 finished runs"));
  CHECK(contains(resumed.output, "resumed from its last epoch"));
  // Every fold's split and test predictions are those of the uninterrupted run, to the byte.
  const auto expected = fold_predictions(reference), got = fold_predictions(killed);
  for (const auto& [file, text] : expected) CHECK_MESSAGE(got.at(file) == text, file);
  const Json a = read_json_file((reference / "results.json").string());
  const Json b = read_json_file((killed / "results.json").string());
  CHECK(a.at("cross_validation").at("corrected_t_tests").dump() ==
        b.at("cross_validation").at("corrected_t_tests").dump());
}

TEST_CASE("compare --ablation: a VGG16 from random weights, unaugmented, on the same folds") {
  const std::string why_not = missing_prerequisite();
  if (!why_not.empty()) {
    MESSAGE("skipping the ablation test: " << why_not);
    return;
  }
  fs::create_directories(kWork);
  const fs::path out = kWork / "cv_ablation";
  fs::remove_all(out);
  const Outcome run =
      run_compare("--data '" + std::string(BUSI_SHARED_DIR) +
                  "/busi' --limit-per-class 10 --img-size 32 --epochs-simple 1 --epochs-vgg 1 "
                  "--folds 2 --repeats 1 --device cpu --bootstrap-rounds 50 --ablation --out '" +
                  out.string() + "'");
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(contains(run.output, "of 3 models"));
  for (int k = 1; k <= 2; ++k) {
    const fs::path fold = out / "repeat1" / ("fold" + std::to_string(k));
    check_run_folder(fold / "vgg16_random");
    // The same images as the other two models, and only the initialisation changed: the
    // ImageNet run trains on cached features without augmentation, so this one must not augment.
    CHECK(read_csv((fold / "vgg16_random" / "split.csv").string()).rows ==
          read_csv((fold / "simple_cnn" / "split.csv").string()).rows);
    const Json config = read_json_file((fold / "vgg16_random" / "config.json").string());
    CHECK(config.at("init").as_string() == "random");
    CHECK(!config.at("augment").as_bool());
    CHECK(read_json_file((fold / "vgg16" / "config.json").string()).at("init").as_string() ==
          "imagenet");
  }
  const Json results = read_json_file((out / "results.json").string());
  const Json& ablation = results.at("cross_validation").at("ablation");
  CHECK(ablation.at("model").as_string() == "VGG16 (random init)");
  const std::string md = read_text_file((out / "report.md").string());
  CHECK(contains(md, "### What ImageNet contributes (ablation)"));
  CHECK(contains(md, "ImageNet weights (VGG16 with them against without)"));
}
