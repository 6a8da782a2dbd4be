// Crash safety of a training run (train_simple on a small synthetic image folder): killed with
// SIGKILL at chosen points (inside an epoch, halfway through writing each kind of file:
// engine/kill_point.h) and at random moments, resumed each time, it ends with the history,
// metrics, predictions, split and best checkpoint of the uninterrupted run, and no file under a
// final name is ever half-written. Also: a run whose loss or gradients stop being finite stops
// at that step with a clear message and resumes from its last good checkpoint; and a file that
// cannot be written (the file-size limit of `ulimit -f`) fails with the path and the reason,
// leaving the previous checkpoint whole.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_data_helpers.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/run_folder/history.h"
#include "weights/safetensors.h"

using namespace busi;
namespace fs = std::filesystem;
using busi::data::testing::TempDir;

namespace {

const std::string kTrain = std::string(BUSI_BINARY_DIR) + "/tools/train_simple";
// Twelve epochs of a tiny run: 3 classes x 10 images of 24 px, batches of 6 (5 steps an epoch).
const std::string kArgs =
    " --img-size 24 --epochs 12 --batch 6 --device cpu --workers 1 --seed 3 --patience 0";

// A 32-bit integer hash (an xorshift-multiply finaliser): noise that no two images share.
uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}

// A folder of 3 classes whose images differ in brightness, so the model learns, each with its
// own blocky noise (4 x 4 cells of 6 px), so that no two are near-duplicates: the split keeps
// near-duplicates together, and 3 groups of 10 would leave the validation subset empty.
void make_dataset(const fs::path& dir) {
  const char* classes[] = {"benign", "malignant", "normal"};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 10; ++i)
      data::testing::write_png(
          dir / classes[c] / ("img" + std::to_string(i) + ".png"), 24, 24, 1,
          [c, i](int y, int x, int) {
            const uint32_t cell = static_cast<uint32_t>((c * 10 + i) * 16 + (y / 6) * 4 + x / 6);
            return static_cast<uint8_t>(40 + 70 * c + ((x / (2 + c) + y) % 2) * 10 +
                                        (mix32(cell) >> 26));
          });
}

struct Run {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string output;
};

// Runs train_simple with `args` through the shell, with `prefix` before it (environment
// variables, `timeout`, `ulimit`); output captured in `log`.
Run train(const std::string& prefix, const std::string& args, const fs::path& log) {
  const std::string command =
      prefix + " '" + kTrain + "' " + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(("bash -c \"" + command + "\"").c_str());
  Run r;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    if (r.exit_code >= 128) r.signal = r.exit_code - 128;  // bash reports a killed child so
  }
  r.output = tools::read_text_file(log.string());
  return r;
}

// The run folder's files as they must be at any moment: each one whole and readable.
void check_no_torn_file(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string(), path = entry.path().string();
    INFO(path);
    if (name.ends_with(".safetensors")) CHECK_NOTHROW(weights::SafetensorsFile{path});
    if (name == "history.csv") CHECK_NOTHROW(tools::read_history(path));
    if (name.ends_with(".csv")) CHECK_NOTHROW(tools::read_csv(path));
    if (name.ends_with(".json"))
      CHECK_NOTHROW(tools::parse_json(tools::read_text_file(path), path));
  }
}

// history.csv without the wall-clock columns (seconds, img_per_s).
std::vector<std::vector<std::string>> history_without_times(const fs::path& dir) {
  tools::CsvTable t = tools::read_csv((dir / "history.csv").string());
  const std::set<size_t> times = {t.require_column("seconds"), t.require_column("img_per_s")};
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : t.rows) {
    std::vector<std::string> kept;
    for (size_t k = 0; k < row.size(); ++k)
      if (!times.count(k)) kept.push_back(row[k]);
    rows.push_back(kept);
  }
  return rows;
}

// metrics.json without its timing keys.
std::string metrics_without_times(const fs::path& dir) {
  tools::Json doc =
      tools::parse_json(tools::read_text_file((dir / "metrics.json").string()), "metrics.json");
  tools::Json kept = tools::Json::object();
  for (const auto& [key, value] : doc.items())
    if (key != "training_seconds" && key != "mean_img_per_s" && key != "overall_img_per_s")
      kept[key] = value;
  return kept.dump(2);
}

void check_same_outcome(const fs::path& got, const fs::path& want) {
  CHECK(history_without_times(got) == history_without_times(want));
  CHECK(metrics_without_times(got) == metrics_without_times(want));
  for (const char* name : {"predictions.csv", "split.csv"})
    CHECK(tools::read_text_file((got / name).string()) ==
          tools::read_text_file((want / name).string()));
  weights::SafetensorsFile a((got / "best.safetensors").string()),
      b((want / "best.safetensors").string());
  REQUIRE(a.entries().size() == b.entries().size());
  for (const weights::TensorEntry& e : b.entries()) {
    INFO(e.name);
    CHECK(a.read_vector(e.name) == b.read_vector(e.name));
  }
}

// A run of the dataset in tmp/data stopped after its first epoch; returns its last.safetensors.
std::string one_epoch_run(const TempDir& tmp, const fs::path& run) {
  make_dataset(tmp.path() / "data");
  REQUIRE(train("",
                " --data '" + (tmp.path() / "data").string() + "'" + kArgs +
                    " --stop-after 1 --out '" + run.string() + "'",
                tmp.path() / "first.log")
              .exit_code == 0);
  return (run / "last.safetensors").string();
}

bool ready() {
  if (fs::exists(kTrain)) return true;
  FAIL("build train_simple first: " << kTrain);
  return false;
}

}  // namespace

TEST_CASE("crash safety: killed anywhere and resumed, a run ends as if never interrupted") {
  if (!ready()) return;
  TempDir tmp("crash");
  make_dataset(tmp.path() / "data");
  const std::string data = " --data '" + (tmp.path() / "data").string() + "'";
  const fs::path ref = tmp.path() / "reference", run = tmp.path() / "killed";
  REQUIRE(
      train("", data + kArgs + " --out '" + ref.string() + "'", tmp.path() / "ref.log").exit_code ==
      0);

  // Each kill, then the next start: --resume from last.safetensors when there is one, else the
  // same command again (a run killed before its first checkpoint has nothing to keep).
  int chosen_kills = 0, random_kills = 0, step = 0;
  auto start = [&](const std::string& prefix) {
    const std::string args = fs::exists(run / "last.safetensors")
                                 ? " --resume '" + (run / "last.safetensors").string() + "'"
                                 : data + kArgs + " --out '" + run.string() + "'";
    const Run r = train(prefix, args, tmp.path() / ("run" + std::to_string(step++) + ".log"));
    INFO(prefix << "\n" << r.output);
    if (r.signal != 9) CHECK(r.exit_code == 0);
    check_no_torn_file(run);
    return r.signal == 9;
  };
  // Chosen points, in the order a run reaches them, so that each one fires: the config at the
  // start, inside epochs, and halfway through writing each file of the run folder.
  const std::vector<std::string> points = {"write:config.json:1",      "batch:3",
                                           "write:history.csv:2",      "batch:4",
                                           "write:last.safetensors:2", "write:best.safetensors:1",
                                           "write:history.csv:1",      "batch:2"};
  for (const std::string& point : points) {
    const bool killed = start("BUSI_KILL_AT=" + point);
    CHECK_MESSAGE(killed, "the kill point " << point << " was not reached");
    chosen_kills += killed;
  }
  // Random moments: SIGKILL after 30 % to 90 % of an uninterrupted run's time, three times.
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(train("", data + kArgs + " --out '" + (tmp.path() / "timing").string() + "'",
                tmp.path() / "timing.log")
              .exit_code == 0);
  const double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(7);
  for (int k = 0; k < 3; ++k)
    random_kills += start("timeout -s KILL " + std::to_string(full * (0.3 + (rng() % 61) * 0.01)));
  // The end of a run: the predictions and the metrics.
  for (const char* point : {"write:predictions.csv:1", "write:metrics.json:1"}) {
    const bool killed = start(std::string("BUSI_KILL_AT=") + point);
    CHECK_MESSAGE(killed, "the kill point " << point << " was not reached");
    chosen_kills += killed;
  }
  REQUIRE(!start(""));  // to the end
  MESSAGE(chosen_kills << " kills at chosen points, " << random_kills
                       << " at random moments (of 3 tried), " << step << " starts");
  check_same_outcome(run, ref);
  for (const auto& entry : fs::directory_iterator(run))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE(
    "divergence: a non-finite loss or gradient stops the run; it resumes from the last good "
    "checkpoint") {
  if (!ready()) return;
  TempDir tmp("diverge");
  const fs::path run = tmp.path() / "run";
  const std::string last = one_epoch_run(tmp, run);
  const std::string before = tools::read_text_file(last);
  // A learning rate of 1e12 sends the weights to infinity within a few steps.
  const Run blown = train("", " --resume '" + last + "' --lr 1e12", tmp.path() / "b.log");
  INFO(blown.output);
  CHECK(blown.exit_code == 1);
  CHECK(blown.output.find("training diverged at epoch 2, step ") != std::string::npos);
  CHECK(blown.output.find(" is not finite (NaN or infinity); the weights were not updated") !=
        std::string::npos);
  CHECK(blown.output.find("--resume " + last) != std::string::npos);
  CHECK(tools::read_text_file(last) == before);  // the last good checkpoint, untouched
  const Run resumed = train("", " --resume '" + last + "'", tmp.path() / "c.log");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(tools::read_history((run / "history.csv").string()).size() == 12);
}

TEST_CASE(
    "a checkpoint that cannot be written fails with the path and the reason; the previous "
    "one stays whole") {
  if (!ready()) return;
  TempDir tmp("full");
  const fs::path run = tmp.path() / "run";
  const std::string last = one_epoch_run(tmp, run);
  const std::string before = tools::read_text_file(last);
  // Files of at most 64 KiB: the history fits, a checkpoint does not (EFBIG, "File too large";
  // SIGXFSZ ignored so that the write fails instead of killing the process).
  REQUIRE(fs::file_size(last) > 64 * 1024);
  const Run full =
      train("ulimit -f 64; trap '' XFSZ;", " --resume '" + last + "'", tmp.path() / "b.log");
  INFO(full.output);
  CHECK(full.exit_code == 1);
  CHECK(full.output.find("cannot write '" + run.string()) != std::string::npos);
  CHECK(full.output.find("File too large") != std::string::npos);
  CHECK(tools::read_text_file(last) == before);
  check_no_torn_file(run);
}
