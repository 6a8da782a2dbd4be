// Copies between host and device and the fill kernel (kernels/cuda/runtime/api.h), all on the
// compute stream. A copy to the host waits for the stream, so its data is complete when the caller
// goes on. A copy from the host never waits: its bytes are first copied into a pinned staging
// slot, whose DMA is queued (see StagingRing), so the caller may change or free its buffer at once.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "kernels/common/error.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"
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

std::atomic<int64_t> g_host_waits{0};

// Waits for the compute stream, counted.
void wait_for_stream() {
  ++g_host_waits;
  CUDA_CHECK(cudaStreamSynchronize(stream()));
}

// Host-to-device copies through pinned staging memory. From pageable memory CUDA may synchronise
// the stream before it stages a copy itself (the runtime API's "synchronization behavior"
// page), and the engine's small per-step copies (a batch's images and labels, the loss's class
// weights) then made the host wait for the device in the middle of every forward pass. Here the
// host copies the bytes into one of kSlots pinned slots (a memcpy), queues the DMA from the slot
// and records an event behind it; a slot is written again only once its event has passed, which
// in a training loop it long has (the step reads its loss in between). A slot grows to the
// largest copy it has carried (a batch of 32 images: 1.2 MB at 96 px, 19 MB for VGG16 at 224 px),
// so the pinned memory stays under 8 such batches. Copies larger than kLargestStaged go the plain
// way, waiting: none of the per-step traffic is that large.
class StagingRing {
 public:
  static constexpr int kSlots = 8;
  static constexpr size_t kLargestStaged = size_t(64) << 20;

  void copy(void* dst, const void* src, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot& slot = slots_[next_];
    next_ = (next_ + 1) % kSlots;
    if (slot.done) {  // the slot's previous copy must have left it
      const cudaError_t state = cudaEventQuery(slot.done);
      if (state == cudaErrorNotReady) {
        ++g_host_waits;
        CUDA_CHECK(cudaEventSynchronize(slot.done));
      } else {
        CUDA_CHECK(state);
      }
    } else {
      CUDA_CHECK(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming));
    }
    if (slot.bytes < bytes) {  // grow: at least double, so a few sizes settle quickly
      const size_t size = std::min(kLargestStaged, std::max<size_t>({bytes, 2 * slot.bytes, 4096}));
      if (slot.host) {
        ++g_host_waits;  // cudaFreeHost waits for the device (once per slot and size)
        CUDA_CHECK(cudaFreeHost(slot.host));
      }
      slot.host = nullptr;
      slot.bytes = 0;
      CUDA_CHECK(cudaMallocHost(&slot.host, size));
      slot.bytes = size;
    }
    std::memcpy(slot.host, src, bytes);
    CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, stream()));
    CUDA_CHECK(cudaEventRecord(slot.done, stream()));
  }

 private:
  struct Slot {
    void* host = nullptr;  // pinned, `bytes` long
    size_t bytes = 0;
    cudaEvent_t done = nullptr;  // recorded after the slot's last copy
  };
  std::mutex mutex_;
  std::array<Slot, kSlots> slots_{};
  int next_ = 0;
};

constexpr int kMaxDevices = 64;

// One ring per device (its events belong to that device's stream); never destroyed, like the
// streams (context.cu).
StagingRing& staging_ring() {
  static StagingRing* rings = new StagingRing[kMaxDevices];
  const int device = current_device();
  BUSI_CHECK(device >= 0 && device < kMaxDevices, "CUDA device index ", device, " out of range");
  return rings[device];
}

}  // namespace

int64_t host_waits() { return g_host_waits.load(); }
void synchronize() { wait_for_stream(); }

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (bytes <= StagingRing::kLargestStaged) {
    staging_ring().copy(dst, src, bytes);
    return;
  }
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
  wait_for_stream();  // the pageable source must stay as it is until the copy has read it
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  wait_for_stream();
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
