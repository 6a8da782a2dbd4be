// paired_folds: a recipe variant against the default on the same cross-validated folds (the
// project's rule for changing a default): both runs' pooled out-of-fold figures and the paired
// difference over the folds with its corrected standard error, as a table and as the row that
// docs/results.md's list of variants takes.
#include <filesystem>
#include <iostream>

#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/report/variant_trial.h"

using namespace busi;
using namespace busi::tools;

namespace {

int paired_folds_main(int argc, char** argv) {
  std::string model = "simple_cnn", variant_model, name;
  int bootstrap_rounds = 1000;
  std::vector<std::string> dirs;
  CommandLine cli("paired_folds",
                  "Compares a recipe variant with the default on the same cross-validated folds: "
                  "pooled out-of-fold figures of both, and the variant's paired difference over "
                  "the folds (corrected resampled t-test). The variant is adopted only when its "
                  "macro-F1 difference beats its standard error.");
  cli.add("--model", &model, "M", "the model folder in BASE (simple_cnn, vgg16, vgg16_random)");
  cli.add("--variant-model", &variant_model, "M", "the model folder in VARIANT");
  cli.set_default_text("--variant-model", "--model");
  cli.add("--name", &name, "TEXT", "the variant's name in the Markdown row");
  cli.set_default_text("--name", "VARIANT's folder name");
  cli.add("--bootstrap-rounds", &bootstrap_rounds, "N", "resamples of the pooled intervals");
  cli.allow_positionals(&dirs, "BASE VARIANT",
                        "compare folders, or folders of repeat<r>/fold<k>/<model>/ run folders "
                        "trained on the same folds (scripts/cv_variant.sh makes them)");
  cli.set_epilog(
      "\nexamples:\n"
      "  scripts/cv_variant.sh runs/cv-precise-bn --precise-bn on\n"
      "  paired_folds runs/compare-X runs/cv-precise-bn\n");
  if (!cli.parse(argc, argv)) return 0;
  if (dirs.size() != 2) throw UsageError("give two folders: BASE VARIANT");
  if (variant_model.empty()) variant_model = model;
  if (name.empty()) name = std::filesystem::path(dirs[1]).lexically_normal().filename().string();
  const VariantTrial trial =
      run_variant_trial(dirs[0], dirs[1], model, variant_model, bootstrap_rounds);
  std::cout << variant_trial_text(trial) << "\nfor docs/results.md:\n"
            << variant_trial_markdown_row(trial, name) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool_main("paired_folds", paired_folds_main, argc, argv);
}
