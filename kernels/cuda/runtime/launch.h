// The one way kernels are launched, on a GPU and on the emulated device alike:
//   BUSI_LAUNCH(kernel, grid, block, shared_bytes, args...);
// queues `kernel` on the compute stream and checks the launch (check_launch: a bad configuration
// is an error naming the kernel, file and line; with BUSI_CUDA_SYNC=1 it also waits for the
// kernel). On a GPU it is kernel<<<grid, block, shared_bytes, stream()>>>(args...); in a
// -DBUSI_CUDA=EMULATE build it hands the same kernel and arguments to the emulator
// (kernels/cuda/emulator/launch.h). A template kernel whose arguments hold a comma is written in
// parentheses: BUSI_LAUNCH((kernel<A, B>), ...).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"

namespace busi::cuda {

template <class... Params, class... Args>
void launch_kernel(const char* name, const char* file, int line, void (*kernel)(Params...),
                   dim3 grid, dim3 block, size_t shared_bytes, Args&&... args) {
#ifdef BUSI_CUDA_EMULATED
  emu::launch(emu::KernelSite{name, file, line}, kernel, grid, block, shared_bytes, stream(),
              std::forward<Args>(args)...);
#else
  // clang-format would split the launch brackets of this line.
  // clang-format off
  kernel<<<grid, block, shared_bytes, stream()>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
  check_launch(name, file, line);
}

}  // namespace busi::cuda

#define BUSI_LAUNCH(kernel, grid, block, shared_bytes, ...)                                   \
  ::busi::cuda::launch_kernel(#kernel, __FILE__, __LINE__, kernel, grid, block, shared_bytes, \
                              __VA_ARGS__)
