// The trainer runs of a cross-validated comparison (see cv_runner.h).
#include "tools/compare/cv_runner.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "kernels/common/error.h"
#include "tools/compare/subprocess.h"
#include "tools/report/format.h"

namespace busi::tools {

namespace fs = std::filesystem;

RunState run_state(const std::string& dir) {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(dir) / "metrics.json", ec) &&
      fs::is_regular_file(fs::path(dir) / "predictions.csv", ec))
    return RunState::Finished;
  if (fs::is_regular_file(fs::path(dir) / "last.safetensors", ec)) return RunState::Interrupted;
  return RunState::Fresh;
}

double estimate_seconds_left(const std::vector<std::string>& remaining,
                             const std::vector<std::pair<std::string, double>>& timed) {
  if (timed.empty()) return -1.0;
  std::map<std::string, std::pair<double, int>> per_model;  // total seconds, runs
  double all = 0;
  for (const auto& [model, seconds] : timed) {
    per_model[model].first += seconds;
    ++per_model[model].second;
    all += seconds;
  }
  const double overall = all / static_cast<double>(timed.size());
  double left = 0;
  for (const std::string& model : remaining) {
    const auto it = per_model.find(model);
    left += it == per_model.end() ? overall : it->second.first / it->second.second;
  }
  return left;
}

void run_cross_validation(const CvPlan& plan, const TrainerCommand& command) {
  struct Run {
    int64_t repeat, fold;
    std::string model;
  };
  std::vector<Run> runs;
  for (int64_t r = 1; r <= plan.repeats; ++r)
    for (int64_t k = 1; k <= plan.folds; ++k)
      for (const std::string& model : plan.models) runs.push_back({r, k, model});
  int64_t finished = 0;
  for (const Run& run : runs)
    finished += run_state(plan.fold_dir(run.repeat, run.fold, run.model)) == RunState::Finished;
  if (finished > 0)
    std::cout << "compare: " << plan.out << " holds " << finished << " of " << runs.size()
              << " finished runs; continuing with the rest\n";

  const auto start = std::chrono::steady_clock::now();
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  std::vector<std::pair<std::string, double>> timed;
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& run = runs[i];
    const std::string dir = plan.fold_dir(run.repeat, run.fold, run.model);
    const RunState state = run_state(dir);
    if (state == RunState::Finished) continue;
    std::vector<std::string> remaining;
    for (size_t j = i; j < runs.size(); ++j)
      if (run_state(plan.fold_dir(runs[j].repeat, runs[j].fold, runs[j].model)) !=
          RunState::Finished)
        remaining.push_back(runs[j].model);
    const double left = estimate_seconds_left(remaining, timed);
    std::vector<std::string> args = command(run.repeat, run.fold, run.model);
    if (state == RunState::Interrupted)
      args.insert(args.end(), {"--resume", (fs::path(dir) / "last.safetensors").string()});
    std::cout << "\n== compare: fold " << run.fold << " of " << plan.folds;
    if (plan.repeats > 1) std::cout << ", repeat " << run.repeat << " of " << plan.repeats;
    std::cout << ": " << model_title(run.model) << " (run " << i + 1 << " of " << runs.size()
              << (state == RunState::Interrupted ? ", resumed from its last epoch" : "") << "); "
              << fmt_duration(seconds_since(start)) << " so far, "
              << (left < 0 ? std::string("time left known after the first run")
                           : "about " + fmt_duration(left) + " left")
              << "\n   " << shell_line(args) << "\n"
              << std::endl;
    const auto t0 = std::chrono::steady_clock::now();
    const int status = run_program(args);
    BUSI_CHECK(status == 0, fs::path(args[0]).filename().string(), " failed on fold ", run.fold,
               " (exit status ", status, "); its messages are above. Run compare again with --out ",
               plan.out, " to continue from there");
    if (state == RunState::Fresh) timed.push_back({run.model, seconds_since(t0)});
  }
}

}  // namespace busi::tools
