// How much scratch memory a cuDNN convolution algorithm may use (host code; conv_cudnn.cu uses it,
// tests check it on every build). The fastest algorithms of large layers (FFT, the tiled
// implicit GEMMs) ask for hundreds of MiB to a few GiB. A fixed cap such as min(1 GiB, memory / 16)
// shuts them out on a large card while saying nothing about a small one; sizing from the memory
// that is actually free when the shape is first met does both: half of it, leaving the other
// half for the activations and gradients that the rest of the step allocates. Blocks held by the
// caching allocator count as free, since it gives them back when memory runs short.
#pragma once

#include <cstddef>

namespace busi::cuda {

inline size_t conv_workspace_limit(size_t free_bytes, size_t cached_bytes) {
  return (free_bytes / 2) + (cached_bytes / 2);
}

}  // namespace busi::cuda
