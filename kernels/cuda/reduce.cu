// CUDA reductions: sum_all (declared in elementwise.h; CPU twin kernels/cpu/elementwise.cpp) and
// channel_sums (reduce.h). Both deterministic: the split of the work depends on the sizes only,
// and every partial sum is combined in a fixed order; sums are accumulated in double like the
// CPU reference.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/channel_reduce.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/reduce.h"

namespace busi::cuda {

namespace {

constexpr int kSumBlocksMax = 1024;            // stage-1 blocks of sum_all
constexpr int64_t kSumValuesPerBlock = 16384;  // values a stage-1 block is worth starting for

// Stage 1 of sum_all: block b sums the values i = b*blockDim + t, stepping by the whole grid
// (float4 loads when x is aligned), and writes partial[b].
__global__ void sum_partial_kernel(const float* x, int64_t n, bool vectorised, double* partial) {
  __shared__ double scratch[32];
  double acc = 0.0;
  const int64_t start = global_thread_index(), step = grid_thread_count();
  int64_t scalar_begin = 0;
  if (vectorised) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const int64_t n4 = n / 4;
    for (int64_t i = start; i < n4; i += step) {
      const float4 v = x4[i];
      acc += (double(v.x) + double(v.y)) + (double(v.z) + double(v.w));
    }
    scalar_begin = n4 * 4;
  }
  for (int64_t i = scalar_begin + start; i < n; i += step) acc += x[i];
  const double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Stage 2: one block adds the partial sums (thread t takes t, t + blockDim, ...), out[0] = total.
__global__ void sum_final_kernel(const double* partial, int count, float* out) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  const double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[0] = static_cast<float>(total);
}

// Stage 2 of channel_sums: out[c] = the S partial sums of channel c, in order.
__global__ void channel_sums_final_kernel(const double* partial, int64_t S, int64_t C, float* out) {
  for (int64_t c = global_thread_index(); c < C; c += grid_thread_count())
    out[c] = static_cast<float>(channel_total(partial, S, C, 0, c));
}

// The term of channel_sums: the value itself.
struct PlainValue {
  const float* x;
  __device__ void operator()(int64_t, int64_t index, double (&acc)[1]) const { acc[0] += x[index]; }
};

}  // namespace

void sum_all(const float* x, float* out, int64_t n) {
  if (n <= 0) {
    fill(out, 0.0f, 1);
    return;
  }
  const int blocks = static_cast<int>(
      std::min<int64_t>(kSumBlocksMax, (n + kSumValuesPerBlock - 1) / kSumValuesPerBlock));
  DeviceBuffer partial(blocks * sizeof(double));  // (blocks)
  BUSI_LAUNCH(sum_partial_kernel, blocks, kThreads, 0, x, n, aligned16(x), partial.as<double>());
  BUSI_LAUNCH(sum_final_kernel, 1, kThreads, 0, partial.as<double>(), blocks, out);
}

void channel_sums(int64_t N, int64_t C, int64_t HW, const float* x, float* out) {
  if (C <= 0) return;
  if (N <= 0 || HW <= 0) {
    fill(out, 0.0f, C);
    return;
  }
  const ChannelSplit split = channel_split(N, C, HW);
  DeviceBuffer partial(split.splits * C * sizeof(double));  // (S, C)
  launch_channel_partial_sums<1>(N, C, HW, split, PlainValue{x}, partial.as<double>());
  BUSI_LAUNCH(channel_sums_final_kernel, grid_for(C), kThreads, 0, partial.as<double>(),
              split.splits, C, out);
}

}  // namespace busi::cuda
