// The live progress bar and aligned text tables (see progress.h).
#include "tools/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace busi::tools {

namespace {

constexpr int kBarWidth = 24;
constexpr double kRedrawSeconds = 0.1;

bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == '%';
  });
}

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

void TextTable::print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      const std::string pad(widths[c] - cell.size(), ' ');
      out << (c ? "  " : "") << (looks_numeric(cell) ? pad + cell : cell + pad);
    }
    out << "\n";
  };
  print_row(header_);
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  out << std::string(total > 2 ? total - 2 : 0, '-') << "\n";
  for (const auto& row : rows_) print_row(row);
}

}  // namespace busi::tools
