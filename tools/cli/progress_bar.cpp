// The live progress bar of a training epoch (see progress_bar.h).
#include "tools/cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace busi::tools {

namespace {

constexpr int kBarWidth = 24;
constexpr double kRedrawSeconds = 0.1;

}  // namespace

bool stdout_is_terminal() { return isatty(fileno(stdout)) != 0; }

std::string format_duration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buffer[32];
  if (h > 0) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return buffer;
}

ProgressBar::ProgressBar(std::string label, int64_t total_batches, bool live)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total_batches, 1)),
      live_(live),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(int64_t batches_done, int64_t images_seen, double mean_loss,
                         double accuracy) {
  if (!live_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = batches_done >= total_;
  if (!last && std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds) return;
  last_draw_ = now;
  draw(batches_done, images_seen, mean_loss, accuracy);
}

void ProgressBar::draw(int64_t batches_done, int64_t images_seen, double mean_loss,
                       double accuracy) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = static_cast<double>(batches_done) / static_cast<double>(total_);
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(kBarWidth, ' ');
  std::fill(bar.begin(), bar.begin() + filled, '=');
  if (filled < kBarWidth) bar[filled] = '>';
  const double images_per_second = elapsed > 0 ? images_seen / elapsed : 0.0;
  const double eta = batches_done > 0 ? elapsed / fraction - elapsed : 0.0;
  char line[256];
  std::snprintf(line, sizeof line,
                "\r%s [%s] %lld/%lld  loss %.4f  acc %5.1f%%  %.1f img/s  ETA %s\033[K",
                label_.c_str(), bar.c_str(), static_cast<long long>(batches_done),
                static_cast<long long>(total_), mean_loss, 100.0 * accuracy, images_per_second,
                format_duration(eta).c_str());
  std::cout << line << std::flush;
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::cout << "\r\033[K" << std::flush;  // carriage return, then erase to the end of the line
  drawn_ = false;
}

}  // namespace busi::tools
