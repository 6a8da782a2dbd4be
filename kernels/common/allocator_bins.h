// The block sizes both caching allocators (host memory: kernels/cpu/host_allocator.cpp, device
// memory: kernels/cuda/runtime/allocator.cu) serve requests from. A request is rounded up to a
// multiple of 512 bytes up to 1 MiB, and above that to one of eight sizes per power of two
// (2^k, 1.125 * 2^k, ..., 1.875 * 2^k): a block wastes at most 12.5 %, and tensors of nearly
// the same size share a bin, so a training loop that repeats its shapes finds every block cached.
#pragma once

#include <algorithm>
#include <cstddef>

namespace busi {

inline constexpr size_t kAllocatorSmallLimit = size_t(1) << 20;  // 1 MiB
inline constexpr size_t kAllocatorSmallStep = 512;
// Nothing this large can exist (and rounding it up could overflow): refused at once.
inline constexpr size_t kAllocatorLargestRequest = size_t(1) << 60;

inline size_t allocator_round_up(size_t bytes, size_t step) {
  return (bytes + step - 1) / step * step;
}

// The bin (block size) a request of `bytes` (at most kAllocatorLargestRequest) is served from.
inline size_t allocator_bin_size(size_t bytes) {
  bytes = std::max<size_t>(bytes, 1);
  if (bytes <= kAllocatorSmallLimit) return allocator_round_up(bytes, kAllocatorSmallStep);
  int top_bit = 63;
  while (!((bytes >> top_bit) & 1)) --top_bit;
  return allocator_round_up(bytes, size_t(1) << (top_bit - 3));  // eight steps per power of two
}

}  // namespace busi
