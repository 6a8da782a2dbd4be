// The caching device allocator behind every CUDA tensor and workspace. cudaMalloc and cudaFree
// are slow (they synchronise the device), so freed blocks are kept in size-binned free lists and
// handed out again: after the first training step every block a step needs is in the cache and
// the steady state makes no cudaMalloc at all (num_cuda_mallocs stops growing).
//
// Bins: kernels/common/allocator_bins.h (eight sizes per power of two above 1 MiB), shared with
// the host allocator. A request takes a cached block of exactly its bin size; blocks are never
// split or merged (simple, and enough for training loops that repeat the same shapes).
//
// With BUSI_CUDA_ALLOC=exact (controls.h) the cache is bypassed: each request is a cudaMalloc of
// exactly its size and each release a cudaFree, for compute-sanitizer's memcheck.
//
// On the emulated device under AddressSanitizer (device memory is host memory there) the
// allocator also marks what a kernel must not touch: the bytes of a block past the size asked
// for, and whole blocks while they wait in the cache. So reading one element past a tensor, or a
// tensor already freed, is reported even though the block is larger or still allocated. The
// marks are queued on the stream like the kernels, so work queued before a free still sees the
// block as it was.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/runtime/controls.h"
#include "kernels/common/allocator_bins.h"
#include "kernels/common/error.h"
#if defined(BUSI_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace busi::cuda {

namespace {

#if defined(BUSI_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
// [ptr, ptr + valid) usable, [ptr + valid, ptr + size) not, from the point in the stream where
// the mark is queued.
struct Marks {
  char* ptr;
  size_t valid, size;
};
void apply_marks(void* data) {
  const Marks* m = static_cast<Marks*>(data);
  ASAN_UNPOISON_MEMORY_REGION(m->ptr, m->valid);
  ASAN_POISON_MEMORY_REGION(m->ptr + m->valid, m->size - m->valid);
  delete m;
}
void queue_marks(void* ptr, size_t valid, size_t size) {
  CUDA_CHECK(
      cudaLaunchHostFunc(stream(), apply_marks, new Marks{static_cast<char*>(ptr), valid, size}));
}
#else
void queue_marks(void*, size_t, size_t) {}
#endif

double mib(size_t bytes) { return static_cast<double>(bytes) / double(1 << 20); }

class CachingAllocator {
 public:
  void* allocate(size_t bytes) {
    const int device = current_device();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.num_allocs;
    if (bytes > kAllocatorLargestRequest) throw out_of_memory(bytes, device);
    if (exact_allocation()) return allocate_exact(bytes, device);
    const size_t size = allocator_bin_size(bytes);
    void* ptr = take_cached(device, size);
    if (ptr) {
      ++stats_.num_cache_hits;
    } else {
      ptr = cuda_malloc_or_retry(bytes, size, device);
    }
    live_[ptr] = Block{size, device, false};
    queue_marks(ptr, bytes, size);
    stats_.allocated_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.allocated_bytes);
    return ptr;
  }

  // Never throws (Storage destructors call it): an unknown pointer is reported on stderr.
  void release(void* ptr) {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(ptr);
    if (it == live_.end()) {
      std::fprintf(stderr, "busi: device_free of a pointer the allocator did not hand out (%p)\n",
                   ptr);
      return;
    }
    const Block block = it->second;
    live_.erase(it);
    stats_.allocated_bytes -= block.size;
    if (block.exact) {  // straight back to the driver (cudaFree waits for queued users)
      const cudaError_t e = cudaFree(ptr);
      if (e != cudaSuccess) std::fprintf(stderr, "busi: cudaFree: %s\n", cudaGetErrorString(e));
      ++stats_.num_cuda_frees;
      return;
    }
    stats_.cached_bytes += block.size;
    free_[{block.device, block.size}].push_back(ptr);
    try {
      queue_marks(ptr, 0, block.size);
    } catch (const Error& e) {  // a faulted device: nothing runs any more, nothing to mark
      std::fprintf(stderr, "busi: %s\n", e.what());
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_all_cached();
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.allocated_bytes;
  }

 private:
  struct Block {
    size_t size;
    int device;
    bool exact;  // from allocate_exact: freed with cudaFree, never cached
  };

  // BUSI_CUDA_ALLOC=exact: cudaMalloc of the very size (at least one byte, so that every block
  // has its own address), no cache.
  void* allocate_exact(size_t bytes, int device) {
    const size_t size = bytes ? bytes : 1;
    void* ptr = cuda_malloc_or_retry(bytes, size, device);
    live_[ptr] = Block{size, device, true};
    stats_.allocated_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.allocated_bytes);
    return ptr;
  }

  void* take_cached(int device, size_t size) {
    const auto it = free_.find({device, size});
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* ptr = it->second.back();
    it->second.pop_back();
    stats_.cached_bytes -= size;
    return ptr;
  }

  // cudaMalloc; when the device is full, give the cache back to the driver and try once more.
  void* cuda_malloc_or_retry(size_t bytes, size_t size, int device) {
    void* ptr = nullptr;
    cudaError_t e = cudaMalloc(&ptr, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the recorded error before retrying
      free_all_cached();
      e = cudaMalloc(&ptr, size);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        throw out_of_memory(bytes, device);
      }
    }
    if (e != cudaSuccess) throw_cuda_error(e, "cudaMalloc(&ptr, size)", __FILE__, __LINE__);
    ++stats_.num_cuda_mallocs;
    return ptr;
  }

  // Called with mutex_ held. cudaFree waits for the device, so no queued kernel still uses them.
  void free_all_cached() {
    int previous = 0;
    CUDA_CHECK(cudaGetDevice(&previous));
    for (auto& [key, blocks] : free_) {
      if (blocks.empty()) continue;
      CUDA_CHECK(cudaSetDevice(key.first));
      for (void* ptr : blocks) {
        CUDA_CHECK(cudaFree(ptr));
        ++stats_.num_cuda_frees;
        stats_.cached_bytes -= key.second;
      }
      blocks.clear();
    }
    free_.clear();
    CUDA_CHECK(cudaSetDevice(previous));
  }

  Error out_of_memory(size_t bytes, int device) const {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
    char text[320];
    std::snprintf(text, sizeof text,
                  "CUDA out of memory: asked for %.1f MiB; in use %.1f MiB, cached %.1f MiB, "
                  "device total %.1f MiB (cuda:%d, %.1f MiB free)",
                  mib(bytes), mib(stats_.allocated_bytes), mib(stats_.cached_bytes),
                  mib(total_bytes), device, mib(free_bytes));
    return Error(text);
  }

  std::mutex mutex_;
  std::unordered_map<void*, Block> live_;                      // handed-out blocks
  std::map<std::pair<int, size_t>, std::vector<void*>> free_;  // (device, bin) -> cached blocks
  AllocatorStats stats_;
};

// Never destroyed: tensors held in static variables are freed after main() returns, and must
// still find their allocator.
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator;
  return *instance;
}

}  // namespace

void* device_malloc(size_t bytes) { return allocator().allocate(bytes); }
void device_free(void* ptr) { allocator().release(ptr); }

AllocatorStats allocator_stats() { return allocator().stats(); }
void reset_peak_bytes() { allocator().reset_peak(); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace busi::cuda
