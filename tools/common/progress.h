// Progress display for training: a live bar per epoch on a terminal (batch i/n, loss, running
// accuracy, img/s, ETA) and plain text tables (the per-epoch summary printed at the end).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace busi::tools {

// True when standard output is a terminal: the live bar is drawn only then, so that logs
// redirected to a file get one clean line per epoch instead of hundreds of carriage returns.
bool stdout_is_terminal();

// "1:05" for 65 s, "1:02:05" past an hour.
std::string format_duration(double seconds);

// One epoch's bar, redrawn in place with '\r' (at most ten times a second). With live = false
// every call does nothing, so the training loop need not check.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total_batches, bool live);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // After each batch: batches done so far, images seen, the mean loss and accuracy so far.
  void update(int64_t batches_done, int64_t images_seen, double mean_loss, double accuracy);
  // Erases the bar, so that the epoch's summary line can be printed in its place.
  void clear();

 private:
  void draw(int64_t batches_done, int64_t images_seen, double mean_loss, double accuracy);

  std::string label_;
  int64_t total_;
  bool live_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// A text table with aligned columns: numbers right-aligned, text left-aligned.
//   TextTable t({"epoch", "loss"});
//   t.add_row({"1", "0.83"});
//   t.print(std::cout);
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace busi::tools
