// End-to-end test of build/tools/compare on a tiny setting (10 images per class from
// ../shared/busi, 32 x 32 pixels, 1 + 2 epochs on the CPU): both trainers run, the report files
// hold the promised content, --from rebuilds the same numbers, and bad input gives clear errors.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

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
  const Outcome run = run_compare("--data '" + std::string(BUSI_SHARED_DIR) +
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

    bad = run_compare("--from '" + dir_a.string() + "'");
    CHECK(bad.status == 2);
    CHECK(contains(bad.output, "--from needs two run folders"));

    bad = run_compare("--from '" + dir_a.string() + "' '" + dir_b.string() +
                      "' --out /proc/busi-compare-test");
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "output folder '/proc/busi-compare-test'"));

    bad = run_compare("--data '" + (kWork / "no-data").string() + "' --device cpu --out '" +
                      (kWork / "z").string() + "'");
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "train_simple failed"));
    CHECK(contains(bad.output, "no-data"));  // the trainer's own message names the folder

    bad = run_compare("--epochs-simple two");
    CHECK(bad.status == 2);
  }
}
