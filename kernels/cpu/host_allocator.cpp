// The caching host allocator (see host_allocator.h). One mutex guards the free lists: the loader's
// threads allocate batches while the training thread allocates activations, and a lock costs
// nothing beside the page faults it saves.
//
// Under AddressSanitizer a cached block is poisoned while it waits, and the bytes past the size
// asked for stay poisoned while it is in use: a tensor read after it was freed, or one element
// past its end, is still reported although the memory stays allocated.
#include "kernels/cpu/host_allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "kernels/common/allocator_bins.h"
#include "kernels/common/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define BUSI_HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUSI_HOST_ASAN 1
#endif
#endif
#ifdef BUSI_HOST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace busi::cpu {

namespace {

// [ptr, ptr + valid) usable, [ptr + valid, ptr + size) not.
void mark(void* ptr, size_t valid, size_t size) {
#ifdef BUSI_HOST_ASAN
  ASAN_UNPOISON_MEMORY_REGION(ptr, valid);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(ptr) + valid, size - valid);
#else
  (void)ptr, (void)valid, (void)size;
#endif
}

class HostAllocator {
 public:
  // BUSI_HOST_CACHE_MIB sets the limit (0: no cache, every block goes straight back to the C
  // library: for A/B timing, or for memory checkers that track each block).
  HostAllocator() {
    if (const char* mib = std::getenv("BUSI_HOST_CACHE_MIB")) {
      char* end = nullptr;
      const unsigned long long value = std::strtoull(mib, &end, 10);
      if (end != mib && *end == '\0') limit_ = static_cast<size_t>(value) << 20;
    }
  }

  void* allocate(size_t bytes) {
    if (bytes > kAllocatorLargestRequest)
      throw Error(detail::concat("out of host memory: asked for ", bytes, " bytes"));
    // Bins are multiples of 512 bytes, so every block is a multiple of the alignment too.
    const size_t size = allocator_bin_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    void* ptr = take_cached(size);
    if (ptr) {
      ++stats_.cache_hits;
    } else {
      ptr = std::aligned_alloc(kHostAlignment, size);
      if (!ptr) {  // give the cache back and try once more
        free_all_cached();
        ptr = std::aligned_alloc(kHostAlignment, size);
      }
      if (!ptr)
        throw Error(detail::concat("out of host memory allocating ", bytes, " bytes (",
                                   stats_.allocated_bytes >> 20, " MiB in use by tensors)"));
      ++stats_.system_allocs;
    }
    mark(ptr, bytes, size);
    stats_.allocated_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.allocated_bytes);
    return ptr;
  }

  void release(void* ptr, size_t bytes) {
    if (!ptr) return;
    const size_t size = allocator_bin_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocated_bytes -= size;
    if (stats_.cached_bytes + size > limit_) {
      mark(ptr, size, size);  // the C library may read its own bookkeeping there
      std::free(ptr);
      return;
    }
    try {
      free_[size].push_back(ptr);
    } catch (const std::bad_alloc&) {  // no room even for the list: give the block back
      mark(ptr, size, size);
      std::free(ptr);
      return;
    }
    stats_.cached_bytes += size;
    mark(ptr, 0, size);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_all_cached();
  }

  void set_limit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    if (stats_.cached_bytes > limit_) free_all_cached();
  }

  HostAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void* take_cached(size_t size) {
    const auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* ptr = it->second.back();  // the most recently freed: likeliest still in cache
    it->second.pop_back();
    stats_.cached_bytes -= size;
    return ptr;
  }

  void free_all_cached() {
    for (auto& [size, blocks] : free_)
      for (void* ptr : blocks) {
        mark(ptr, size, size);
        std::free(ptr);
      }
    free_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;  // bin size -> cached blocks
  size_t limit_ = size_t(2) << 30;
  HostAllocatorStats stats_;
};

// Never destroyed: tensors held by static objects may be freed after main returns.
HostAllocator& allocator() {
  static HostAllocator* instance = new HostAllocator();
  return *instance;
}

}  // namespace

void* host_malloc(size_t bytes) { return allocator().allocate(bytes); }
void host_free(void* ptr, size_t bytes) { allocator().release(ptr, bytes); }
void host_empty_cache() { allocator().empty_cache(); }
void set_host_cache_limit(size_t bytes) { allocator().set_limit(bytes); }
HostAllocatorStats host_allocator_stats() { return allocator().stats(); }

}  // namespace busi::cpu
