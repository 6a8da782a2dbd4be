// The host-side entry points of the CUDA runtime layer (kernels/cuda/runtime/), called by the device-
// neutral engine code. Compiled only with BUSI_WITH_CUDA; every function checks its CUDA calls
// and throws busi::Error naming the call, file and line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace busi::cuda {

// True when a GPU and a working driver are present; otherwise false and `reason` says why.
bool device_available(std::string* reason);

// Device memory from the caching allocator (kernels/cuda/runtime/allocator.cu).
void* device_malloc(size_t bytes);
void device_free(void* ptr);

// Copies on the compute stream. A copy to the host waits for the stream; a copy from the host
// does not (it is staged in pinned memory, memory.cu), and the caller may reuse its buffer at once.
void copy_host_to_device(void* dst, const void* src, size_t bytes);
void copy_device_to_host(void* dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void fill(float* dst, float value, int64_t n);

}  // namespace busi::cuda
