// Deterministic per-channel sums over an (N, C, HW) tensor (device code, for .cu files): the
// statistics of batch norm, the bias gradients of convolution and linear layers. Two stages,
// because one block per channel would leave most SMs idle (64 channels of 1.6 million values):
//   stage 1, channel_partial_sums: block (c, s) sums channel c over images [s * per, (s+1) * per)
//            and writes partial[(k S + s) C + c] for each of its kSums sums;
//   stage 2, channel_total (called by the op's own finishing kernel): the S partial sums of a
//            channel added in the order s = 0, 1, ..., S - 1.
// S depends on the shape only, never on the GPU, so the sums have the same bits everywhere.
// Sums are accumulated in double, like the CPU reference.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace busi::cuda {

struct ChannelSplit {
  int64_t splits = 1;            // S
  int64_t images_per_split = 1;  // per
};

inline ChannelSplit channel_split(int64_t N, int64_t C, int64_t HW) {
  // About 1024 blocks in all (several waves of a 132-SM GPU), but no split smaller than about
  // 8192 values, and never more splits than images.
  int64_t s = (1024 + C - 1) / std::max<int64_t>(C, 1);
  s = std::min(s, std::max<int64_t>(1, N * HW / 8192));
  s = std::max<int64_t>(1, std::min(s, N));
  ChannelSplit split;
  split.images_per_split = (N + s - 1) / s;
  split.splits = std::max<int64_t>(1, (N + split.images_per_split - 1) / split.images_per_split);
  return split;
}

// Stage 1. `term(c, index, acc)` adds the contribution of element `index` (of channel c) to its
// kSums accumulators. Launch with grid (C, S) and kThreads threads.
template <int kSums, class Term>
__global__ void channel_partial_sums(int64_t N, int64_t C, int64_t HW, int64_t images_per_split,
                                     Term term, double* partial) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, s = blockIdx.y, S = gridDim.y;
  const int64_t n_begin = s * images_per_split;
  const int64_t n_end = n_begin + images_per_split < N ? n_begin + images_per_split : N;
  double acc[kSums];
  for (int k = 0; k < kSums; ++k) acc[k] = 0.0;
  if (HW >= blockDim.x) {
    // Large planes: the threads sweep each image's plane of this channel together, four
    // elements per step (independent loads in flight: DRAM bandwidth needs them).
    const int64_t stride = blockDim.x;
    for (int64_t n = n_begin; n < n_end; ++n) {
      const int64_t plane = (n * C + c) * HW;
      for (int64_t i = threadIdx.x; i < HW; i += 4 * stride) {
#pragma unroll
        for (int u = 0; u < 4; ++u)
          if (i + u * stride < HW) term(c, plane + i + u * stride, acc);
      }
    }
  } else {
    // Small planes (down to HW = 1 for (N, C) features): one flat loop over (image, position).
    const int64_t count = (n_end - n_begin) * HW;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t n = n_begin + j / HW, i = j % HW;
      term(c, (n * C + c) * HW + i, acc);
    }
  }
  for (int k = 0; k < kSums; ++k) {
    const double total = block_sum(acc[k], scratch);
    if (threadIdx.x == 0) partial[(k * S + s) * C + c] = total;
  }
}

// Stage 2: sum k of channel c.
__device__ __forceinline__ double channel_total(const double* partial, int64_t S, int64_t C, int k,
                                                int64_t c) {
  double total = 0.0;
  for (int64_t s = 0; s < S; ++s) total += partial[(k * S + s) * C + c];
  return total;
}

// Launches stage 1 (grid (C, S) fits: C < 2^31, S <= 1024 < 65535).
template <int kSums, class Term>
void launch_channel_partial_sums(int64_t N, int64_t C, int64_t HW, const ChannelSplit& split,
                                 Term term, double* partial) {
  const dim3 grid(static_cast<unsigned>(C), static_cast<unsigned>(split.splits));
  BUSI_LAUNCH((channel_partial_sums<kSums, Term>), grid, kThreads, 0, N, C, HW,
              split.images_per_split, term, partial);
}

}  // namespace busi::cuda
