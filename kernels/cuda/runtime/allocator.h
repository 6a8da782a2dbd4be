// Device memory for the engine's own scratch space: DeviceBuffer, a block from the caching
// allocator (device_malloc / device_free in kernels/cuda/runtime/api.h) that goes back to the cache when it
// leaves scope. Giving a block back while kernels that use it are still queued is safe: its next
// user is queued on the same compute stream, behind them.
#pragma once

#include <cstddef>
#include <utility>

#include "kernels/cuda/runtime/api.h"

namespace busi::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes)
      : ptr_(bytes ? device_malloc(bytes) : nullptr), bytes_(bytes) {}
  ~DeviceBuffer() { device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(ptr_, other.ptr_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace busi::cuda
