// compare: trains SimpleCNN (train_simple) and VGG16 (finetune_vgg) on the same split and seed,
// then writes report.html, report.md and results.json; --from rebuilds the report only.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/common/error.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
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
  int64_t seed = 42;
  int epochs_simple = 0, epochs_vgg = 0, img_size = 0, limit_per_class = 0;
  int bootstrap_rounds = 1000;
  bool from = false;
  std::vector<std::string> from_dirs;
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
  cli.add("--bootstrap-rounds", &s.bootstrap_rounds, "N",
          "bootstrap resamples for the report's confidence intervals");
  cli.add_switch("--from", &s.from,
                 "rebuild the report from two existing run folders DIR_A DIR_B, no training");
  cli.allow_positionals(&s.from_dirs, "DIR_A DIR_B", "the run folders given with --from");
  cli.set_epilog(
      "Trains both models as subprocesses (build/tools/train_simple, then finetune_vgg on the\n"
      "split.csv the first run wrote), streaming their output, into OUT/simple_cnn and\n"
      "OUT/vgg16; then writes OUT/report.html (self-contained, opens offline), OUT/report.md\n"
      "and OUT/results.json. With --from, OUT defaults to the folder holding both run folders.\n"
      "\nexamples:\n"
      "  compare                                   # full comparison with the preset for this "
      "machine\n"
      "  compare --limit-per-class 10 --img-size 32 --epochs-simple 1 --epochs-vgg 2\n"
      "  compare --from runs/compare-X/simple_cnn runs/compare-X/vgg16\n");
}

// A command line quoted for a POSIX shell, printed so the user can rerun one step by hand.
std::string shell_line(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789-_./=:,+") == std::string::npos;
    std::string quoted = "'";
    for (const char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "" : " ") + (plain ? a : quoted + "'");
  }
  return line;
}

// Runs a program with its output going straight to ours (progress bars included) and returns
// its exit status (128 + signal number when it was killed).
int run_program(const std::vector<std::string>& args) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  BUSI_CHECK(pid >= 0, "cannot start ", args[0], " (", std::strerror(errno), ")");
  if (pid == 0) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "compare: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    BUSI_CHECK(errno == EINTR, "waiting for ", args[0], ": ", std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

// The trainers live beside this executable (build/tools/).
std::string sibling_tool(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path tool = (ec ? fs::path(".") : self.parent_path()) / name;
  BUSI_CHECK(fs::is_regular_file(tool, ec) && access(tool.c_str(), X_OK) == 0, tool.string(),
             " not found (build it: cmake --build build --target ", name, ")");
  return tool.string();
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

// --from's default output: the folder holding both run folders, else a new compare folder.
std::string default_report_dir(const std::string& dir_a, const std::string& dir_b) {
  const fs::path parent_a = fs::absolute(dir_a).lexically_normal().parent_path();
  const fs::path parent_b = fs::absolute(dir_b).lexically_normal().parent_path();
  if (parent_a == parent_b) return fs::path(dir_a).lexically_normal().parent_path().string();
  return default_run_dir("compare");
}

int compare_main(int argc, char** argv) {
  CompareSettings s;
  CommandLine cli("compare",
                  "Trains SimpleCNN and VGG16 on the same BUSI split and seed and "
                  "writes a comparison report (HTML, Markdown, JSON).");
  define_flags(cli, s);
  if (!cli.parse(argc, argv)) return 0;

  std::string dir_a, dir_b;
  if (s.from) {
    if (s.from_dirs.size() != 2)
      throw UsageError("--from needs two run folders: --from DIR_A DIR_B");
    for (const char* flag : {"--data", "--preset", "--weights", "--epochs-simple", "--epochs-vgg",
                             "--img-size", "--limit-per-class", "--seed", "--device"})
      if (cli.given(flag))
        throw UsageError(std::string(flag) +
                         " is a training flag; --from only rebuilds the report");
    dir_a = s.from_dirs[0];
    dir_b = s.from_dirs[1];
    if (!cli.given("--out")) s.out = default_report_dir(dir_a, dir_b);
  } else {
    if (!s.from_dirs.empty())
      throw UsageError("unexpected argument '" + s.from_dirs[0] + "' (run folders go with --from)");
    if (!cli.given("--out")) s.out = default_run_dir("compare");
    dir_a = (fs::path(s.out) / "simple_cnn").string();
    dir_b = (fs::path(s.out) / "vgg16").string();
  }
  if (s.bootstrap_rounds < 0) throw UsageError("--bootstrap-rounds: must be 0 or more");
  prepare_run_dir(s.out);  // fails now, not after hours of training, if OUT is not writable

  if (!s.from) train_both(cli, s, dir_a, dir_b);
  std::cout << "\n== compare" << (s.from ? "" : " 3/3") << ": report from " << dir_a << " and "
            << dir_b << "\n";
  ReportOptions options;
  options.bootstrap_rounds = s.bootstrap_rounds;
  const ReportFiles files = write_comparison_report(dir_a, dir_b, s.out, options);
  std::cout << "   " << files.html << "\n   " << files.markdown << "\n   " << files.json << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("compare", compare_main, argc, argv); }
