// Copies between host and device and the fill kernel (kernels/cuda/runtime/api.h), all on the compute
// stream. Copies that touch host memory wait for the stream before returning, so the host data
// is complete (device to host) or no longer needed (host to device) when the caller goes on.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/launch.h"
#include "kernels/cuda/runtime/api.h"

namespace busi::cuda {

namespace {

// dst[i] = value over n floats, a grid-stride loop with 64-bit indices.
__global__ void fill_kernel(float* dst, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

}  // namespace

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
  CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void fill(float* dst, float value, int64_t n) {
  if (n <= 0) return;
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if (bits == 0) {  // +0.0f is all-zero bytes: a memset does it (not -0.0f, whose sign bit is set)
    CUDA_CHECK(cudaMemsetAsync(dst, 0, static_cast<size_t>(n) * sizeof(float), stream()));
    return;
  }
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, int64_t(sm_count()) * 16);
  BUSI_LAUNCH(fill_kernel, static_cast<unsigned>(blocks), threads, 0, dst, value, n);
}

}  // namespace busi::cuda
