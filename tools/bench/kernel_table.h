// The Markdown table bench_kernels prints for docs/benchmarks.md: one row per kernel and shape,
// memory-bound kernels in GB/s against the measured copy bandwidth, compute-bound ones in TFLOP/s
// against the FP32 peak (with the speed relative to cuBLAS/cuDNN where there is one), tiny ones
// as latency.
#pragma once

#ifdef BUSI_WITH_CUDA

#include <functional>
#include <string>
#include <utility>

#include "tools/bench/cuda_timer.h"

namespace busi::tools {

class KernelTable {
 public:
  // Each row is the median of `reps` timed runs; only rows whose name contains `only` are run
  // (all when it is empty).
  KernelTable(CudaTimer& timer, int reps, std::string only)
      : timer_(timer), reps_(reps), only_(std::move(only)) {}

  bool wanted(const std::string& name) const;

  void set_copy_bandwidth(double gbs) { copy_gbs_ = gbs; }
  void set_fp32_peak(double tflops) { fp32_peak_ = tflops; }

  // A memory-bound kernel moving `bytes` per run.
  void memory(const std::string& name, const std::string& shape, double bytes,
              const std::function<void()>& fn);

  // A compute-bound kernel doing `flops` per run; `reference_ms` > 0 adds the ratio of the
  // reference's time to this one's (the speed relative to the library). Returns the time.
  double compute(const std::string& name, const std::string& shape, double flops,
                 const std::function<void()>& fn, double reference_ms = 0.0,
                 const char* reference = "");

  // A latency-bound kernel (tiny sizes): time only.
  void latency(const std::string& name, const std::string& shape, const std::function<void()>& fn);

  // A heading and the table's header row.
  void section(const char* title);

 private:
  CudaTimer& timer_;
  int reps_;
  std::string only_;
  double copy_gbs_ = 1.0, fp32_peak_ = 0.0;
};

}  // namespace busi::tools

#endif  // BUSI_WITH_CUDA
