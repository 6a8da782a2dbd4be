// Progress display for training: a live bar per epoch on a terminal (batch i/n, loss, running
// accuracy, img/s, ETA), and durations as the tools print them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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

}  // namespace busi::tools
