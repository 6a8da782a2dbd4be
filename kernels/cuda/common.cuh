// Helpers shared by the kernel files of kernels/cuda/ (device code, included by .cu files only):
// launch sizes for grid-stride loops, the alignment test for float4 loads, and deterministic
// warp and block sums (shuffle trees whose order of additions is fixed by the thread layout, so a
// sum gives the same bits on every run).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/launch.h"

namespace busi::cuda {

constexpr int kThreads = 256;  // threads per block of the element-wise kernels

// Blocks for a grid-stride loop over `work` items: no more than the work needs, and at most
// 8 blocks of 256 threads per SM (2048 threads: a full SM on Hopper), far below gridDim.x's limit
// of 2^31 - 1. Element-wise results do not depend on the grid, so using the SM count is safe.
inline unsigned grid_for(int64_t work, int threads = kThreads) {
  const int64_t needed = (work + threads - 1) / threads;
  const int64_t cap = int64_t(sm_count()) * (2048 / threads);
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(needed, cap)));
}

// float4 loads and stores need 16-byte aligned addresses. Tensor data can start anywhere in its
// storage (narrow0 views), so every vectorised path checks its pointers first.
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ __forceinline__ int64_t global_thread_index() {
  return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_thread_count() { return int64_t(gridDim.x) * blockDim.x; }

// Sum over the 32 lanes of a warp by a butterfly of shuffles: after the step with offset o, lane
// l holds the sum of its group of 2o lanes. Every lane ends with the total, and with the same
// bits (each step adds the same two values on both partner lanes; addition is commutative).
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over a whole block (blockDim.x a multiple of 32, at most 1024): each warp sums its lanes,
// warp 0 sums the warp totals. The total is valid in every thread of warp 0. `scratch` is a
// __shared__ array of 32 values. Every thread of the block must call it (it synchronises), and it
// can be called again straight away.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // a previous call's reads of scratch are done
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = static_cast<int>(threadIdx.x) < warps ? scratch[threadIdx.x] : T(0);
  if (warp == 0) v = warp_sum(v);
  return v;
}

}  // namespace busi::cuda
