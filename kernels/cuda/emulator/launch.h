// Kernel launches on the emulated device: what `kernel<<<grid, block, shared, stream>>>(args)`
// becomes. The launch is checked as the hardware checks it (block and grid limits, shared
// memory), its arguments are copied (as a real launch copies them to the GPU), and the grid is
// queued on the stream; it runs when the host waits for that stream (device_queue.cpp). Called
// through busi::cuda::launch_kernel (kernels/cuda/runtime/launch.h), never directly by kernels.
#pragma once

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cuda/emulator/device_code.h"
#include "kernels/cuda/emulator/runtime_api.h"

namespace busi::emu {

struct KernelSite {  // the kernel's name and the line that launched it, for fault messages
  const char* name;
  const char* file;
  int line;
};

struct LaunchRequest {
  KernelSite site;
  const void* func;  // identifies the kernel (its opted-in shared memory limit)
  dim3 grid, block;
  size_t dynamic_shared_bytes;
  cudaStream_t stream;
  bool serial_blocks;            // run one block at a time (shared memory is process-wide)
  std::function<void()> thread;  // the body of one CUDA thread: the kernel with its arguments
};

// Checks the configuration; on success queues the grid and returns cudaSuccess, otherwise
// returns (and records as the last error) the code a real launch gives.
cudaError_t enqueue_launch(LaunchRequest request);

template <class... Params, class... Args>
cudaError_t launch(const KernelSite& site, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t dynamic_shared_bytes, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with the wrong arguments");
  using Arguments = std::tuple<std::decay_t<Params>...>;
  auto arguments = std::make_shared<const Arguments>(std::forward<Args>(args)...);
  LaunchRequest request{site,
                        reinterpret_cast<const void*>(kernel),
                        grid,
                        block,
                        dynamic_shared_bytes,
                        stream,
                        BUSI_EMU_SHARED_IS_STATIC != 0,
                        [kernel, arguments] { std::apply(kernel, *arguments); }};
  return enqueue_launch(std::move(request));
}

}  // namespace busi::emu
