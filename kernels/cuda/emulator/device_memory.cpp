// Device memory on the emulated device: host memory from the C library, recorded in a map so
// that every copy and memset can check that its device side lies inside one allocation (a real
// GPU refuses others with cudaErrorInvalidValue). With AddressSanitizer each allocation has
// red zones on both sides, so a kernel reading one element too far is reported at once.
// Copies follow CUDA's rules for pageable host memory: a copy from the host reads its source
// before returning, a copy to the host waits for the queue and is done when it returns;
// device-to-device copies and memsets are queued. A copy from pinned host memory (cudaMallocHost)
// is queued too and reads its source when it runs, so code that rewrites a pinned buffer before
// its copy has run sends the new bytes, as it would on a GPU.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda/emulator/device_state.h"
#include "kernels/cuda/emulator/runtime_api.h"

namespace busi::emu::detail {

namespace {

struct Memory {
  std::mutex mutex;
  std::map<uintptr_t, size_t> blocks;  // start -> bytes
  std::map<uintptr_t, size_t> pinned;  // pinned host allocations: start -> bytes
  size_t used = 0;
};

// True when [a, a + bytes) lies inside one entry of `ranges` (start -> bytes).
bool inside(const std::map<uintptr_t, size_t>& ranges, uintptr_t a, size_t bytes) {
  auto it = ranges.upper_bound(a);
  if (it == ranges.begin()) return false;
  --it;
  return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

Memory& memory() {
  static Memory* m = new Memory;  // never destroyed (see errors.cpp)
  return *m;
}

}  // namespace

bool device_range(const void* p, size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  return inside(m.blocks, reinterpret_cast<uintptr_t>(p), bytes);
}

bool pinned_range(const void* p, size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  return inside(m.pinned, reinterpret_cast<uintptr_t>(p), bytes);
}

void free_all_memory() {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  for (const auto& [start, bytes] : m.blocks) std::free(reinterpret_cast<void*>(start));
  m.blocks.clear();
  m.used = 0;
}

}  // namespace busi::emu::detail

using namespace busi::emu::detail;

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return set_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (const cudaError_t e = sticky_error()) return set_error(e);
  if (bytes == 0) return cudaSuccess;
  Memory& m = memory();
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    if (bytes > memory_capacity() - m.used) return set_error(cudaErrorMemoryAllocation);
    m.used += bytes;
  }
  void* p = nullptr;
  if (posix_memalign(&p, 256, bytes) != 0) {  // cudaMalloc aligns to 256 bytes
    std::lock_guard<std::mutex> lock(m.mutex);
    m.used -= bytes;
    return set_error(cudaErrorMemoryAllocation);
  }
  // Fresh device memory holds whatever was there: all-ones bytes (NaN floats) here, so code
  // that reads memory it never wrote gives NaN rather than a lucky zero.
  std::memset(p, 0xFF, bytes);
  std::lock_guard<std::mutex> lock(m.mutex);
  m.blocks[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  run_pending();  // cudaFree waits for the device: no queued kernel still uses the block
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  const auto it = m.blocks.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == m.blocks.end()) return set_error(cudaErrorInvalidValue);
  m.used -= it->second;
  m.blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return set_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (const cudaError_t e = sticky_error()) return set_error(e);
  if (bytes == 0) return cudaSuccess;
  void* p = nullptr;
  if (posix_memalign(&p, 4096, bytes) != 0) return set_error(cudaErrorMemoryAllocation);
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.pinned[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  run_pending();  // no queued copy still reads the block
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  const auto it = m.pinned.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == m.pinned.end()) return set_error(cudaErrorInvalidValue);
  m.pinned.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return set_error(cudaErrorInvalidValue);
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  *total_bytes = memory_capacity();
  *free_bytes = memory_capacity() - m.used;
  return cudaSuccess;
}

namespace {

// The direction of a copy after checking it: the device sides must lie in allocations.
cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind& kind) {
  if (!dst || !src) return cudaErrorInvalidValue;
  const bool dst_device = device_range(dst, bytes), src_device = device_range(src, bytes);
  if (kind == cudaMemcpyDefault)  // unified addressing: the pointers say where they are
    kind = src_device ? (dst_device ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                      : (dst_device ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
  switch (kind) {
    case cudaMemcpyHostToHost:
      return cudaSuccess;
    case cudaMemcpyHostToDevice:
      return dst_device ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToHost:
      return src_device ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToDevice:
      return dst_device && src_device ? cudaSuccess : cudaErrorInvalidValue;
    default:
      return cudaErrorInvalidMemcpyDirection;
  }
}

}  // namespace

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  if (const cudaError_t e = check_copy(dst, src, bytes, kind)) return set_error(e);
  switch (kind) {
    case cudaMemcpyHostToDevice: {
      if (pinned_range(src, bytes)) {  // pinned: the DMA reads the source when the copy runs
        enqueue(stream, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
        return cudaSuccess;
      }
      // pageable: the source is read now; the device is written in order
      auto staged = std::make_shared<std::vector<unsigned char>>(
          static_cast<const unsigned char*>(src), static_cast<const unsigned char*>(src) + bytes);
      enqueue(stream, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
      return cudaSuccess;
    }
    case cudaMemcpyDeviceToDevice:
      enqueue(stream, [dst, src, bytes] { std::memmove(dst, src, bytes); });
      return cudaSuccess;
    default:  // to the host: done when this returns
      run_pending();
      if (const cudaError_t e = sticky_error()) return set_error(e);
      std::memcpy(dst, src, bytes);
      return cudaSuccess;
  }
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  if (e != cudaSuccess) return e;
  run_pending();  // the synchronous copy returns when it is done
  return set_error(sticky_error());
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  if (!device_range(dst, bytes)) return set_error(cudaErrorInvalidValue);
  enqueue(stream, [dst, value, bytes] { std::memset(dst, value, bytes); });
  return cudaSuccess;
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  const cudaError_t e = cudaMemsetAsync(dst, value, bytes, nullptr);
  if (e != cudaSuccess) return e;
  run_pending();
  return set_error(sticky_error());
}
