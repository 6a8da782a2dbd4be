// The caching allocator behind every CPU tensor. A training step frees its activations and
// gradients and the next step asks for the same sizes again; handed to the C library each time,
// a large block goes back to the kernel (munmap) and the next one is mapped afresh, so every
// page of every new tensor costs a page fault and the kernel's zeroing of it, on the thread that
// touches it first. Kept in size-binned free lists instead (kernels/common/allocator_bins.h),
// the blocks of one step serve the next, and the steady state maps no new memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace busi::cpu {

inline constexpr size_t kHostAlignment = 64;  // so that vector loads never straddle cache lines

// A block of at least `bytes` bytes aligned to kHostAlignment, from the cache when one of its
// bin is there. Throws busi::Error "out of host memory ..." when the system has none, after
// giving the cache back and trying once more.
void* host_malloc(size_t bytes);
// Gives a block of host_malloc(bytes) back to the cache (or to the system when the cache is at
// its limit). Never throws; nullptr is ignored.
void host_free(void* ptr, size_t bytes);
// Returns every cached block to the system.
void host_empty_cache();

// Cached bytes above this are returned to the system at once (default 2 GiB, or the environment's
// BUSI_HOST_CACHE_MIB; 0 turns the cache off): the cache only needs one step's worth of blocks.
void set_host_cache_limit(size_t bytes);

struct HostAllocatorStats {
  int64_t allocations = 0;     // host_malloc calls
  int64_t cache_hits = 0;      // of those, served from the cache
  int64_t system_allocs = 0;   // blocks taken from the C library
  size_t allocated_bytes = 0;  // in blocks handed out and not yet freed (bin sizes)
  size_t cached_bytes = 0;     // in blocks waiting in the cache
  size_t peak_bytes = 0;       // the largest allocated_bytes so far
};
HostAllocatorStats host_allocator_stats();

// A kernel's temporary array of n elements of T, uninitialised, from the same cache and given
// back to it when the buffer goes. Scratch the size of a layer's activations (a convolution's
// column gradients, its per-thread weight-gradient sums, its packed weights) taken as a
// std::vector in every call was mapped and zeroed afresh, page by page, at every step: 15 % of
// the bf16 VGG16 step (docs/benchmarks.md).
template <typename T>
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(int64_t n) { resize(n); }
  ~HostBuffer() { release(); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  HostBuffer(HostBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  HostBuffer& operator=(HostBuffer&& other) noexcept {
    if (this != &other) {
      release();
      std::swap(data_, other.data_);
      std::swap(size_, other.size_);
    }
    return *this;
  }

  // n elements, uninitialised (what was held before is not kept); 0 gives the block back.
  void resize(int64_t n) {
    release();
    if (n > 0) {
      data_ = static_cast<T*>(host_malloc(static_cast<size_t>(n) * sizeof(T)));
      size_ = n;
    }
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  void release() {
    host_free(data_, static_cast<size_t>(size_) * sizeof(T));
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace busi::cpu
