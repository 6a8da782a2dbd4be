// The kernel benchmark's Markdown rows (see kernel_table.h).
#include "tools/bench/kernel_table.h"

#ifdef BUSI_WITH_CUDA

#include <cstdio>

namespace busi::tools {

bool KernelTable::wanted(const std::string& name) const {
  return only_.empty() || name.find(only_) != std::string::npos;
}

void KernelTable::memory(const std::string& name, const std::string& shape, double bytes,
                         const std::function<void()>& fn) {
  if (!wanted(name)) return;
  const double ms = timer_.median_ms(fn, reps_, true);
  const double gbs = bytes / (ms * 1e-3) / 1e9;
  std::printf("| %-34s | %-18s | %9.3f | %8.1f GB/s | %5.1f %% of copy | |\n", name.c_str(),
              shape.c_str(), ms, gbs, 100.0 * gbs / copy_gbs_);
  std::fflush(stdout);
}

double KernelTable::compute(const std::string& name, const std::string& shape, double flops,
                            const std::function<void()>& fn, double reference_ms,
                            const char* reference) {
  if (!wanted(name)) return 0.0;
  const double ms = timer_.median_ms(fn, reps_, false);
  const double tflops = flops / (ms * 1e-3) / 1e12;
  char ratio[64] = "";
  if (reference_ms > 0.0)
    std::snprintf(ratio, sizeof ratio, "%.2f x %s", reference_ms / ms, reference);
  std::printf("| %-34s | %-18s | %9.3f | %7.2f TFLOP/s | %5.1f %% of FP32 peak | %s |\n",
              name.c_str(), shape.c_str(), ms, tflops,
              fp32_peak_ > 0 ? 100.0 * tflops / fp32_peak_ : 0.0, ratio);
  std::fflush(stdout);
  return ms;
}

void KernelTable::latency(const std::string& name, const std::string& shape,
                          const std::function<void()>& fn) {
  if (!wanted(name)) return;
  const double ms = timer_.median_ms(fn, reps_, false);
  std::printf("| %-34s | %-18s | %9.3f | %8.1f us | latency-bound | |\n", name.c_str(),
              shape.c_str(), ms, ms * 1e3);
  std::fflush(stdout);
}

void KernelTable::section(const char* title) {
  std::printf(
      "\n**%s**\n\n| kernel | shape | ms (median) | achieved | fraction of peak | vs "
      "library |\n|---|---|---:|---:|---:|---|\n",
      title);
}

}  // namespace busi::tools

#endif  // BUSI_WITH_CUDA
