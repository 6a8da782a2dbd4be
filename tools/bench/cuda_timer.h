// Timing a CUDA kernel as bench_kernels does: CUDA events on the engine's compute stream, three
// warm-up runs, the median of N runs, and (for memory-bound kernels) the L2 cache overwritten
// before each run so that the kernel reads from DRAM, as it does inside a network.
#pragma once

#ifdef BUSI_WITH_CUDA

#include <cstddef>
#include <functional>

#include <cuda_runtime_api.h>

namespace busi::tools {

class CudaTimer {
 public:
  CudaTimer();
  ~CudaTimer();

  // Median milliseconds of `reps` runs of fn after 3 warm-up runs; flush_l2 overwrites the L2
  // cache before each run so a memory-bound kernel reads from DRAM, as it does in a network.
  double median_ms(const std::function<void()>& fn, int reps, bool flush_l2);

  // It owns two CUDA events and a device buffer: one owner only.
  CudaTimer(const CudaTimer&) = delete;
  CudaTimer& operator=(const CudaTimer&) = delete;

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  void* flush_ = nullptr;  // a buffer of twice the L2 size (at least 64 MiB)
  size_t flush_bytes_ = 0;
};

}  // namespace busi::tools

#endif  // BUSI_WITH_CUDA
