// CUDA-event timing with an L2 flush (see cuda_timer.h).
#include "tools/bench/cuda_timer.h"

#ifdef BUSI_WITH_CUDA

#include <algorithm>
#include <vector>

#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"

namespace busi::tools {

CudaTimer::CudaTimer() {
  CUDA_CHECK(cudaEventCreate(&start_));
  CUDA_CHECK(cudaEventCreate(&stop_));
  const size_t l2 = cuda::device_info().l2_bytes;
  flush_bytes_ = std::max<size_t>(2 * l2, size_t(64) << 20);
  CUDA_CHECK(cudaMalloc(&flush_, flush_bytes_));
}

CudaTimer::~CudaTimer() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
  cudaFree(flush_);
}

double CudaTimer::median_ms(const std::function<void()>& fn, int reps, bool flush_l2) {
  for (int i = 0; i < 3; ++i) fn();
  CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    if (flush_l2) CUDA_CHECK(cudaMemsetAsync(flush_, r & 0xff, flush_bytes_, cuda::stream()));
    CUDA_CHECK(cudaEventRecord(start_, cuda::stream()));
    fn();
    CUDA_CHECK(cudaEventRecord(stop_, cuda::stream()));
    CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace busi::tools

#endif  // BUSI_WITH_CUDA
