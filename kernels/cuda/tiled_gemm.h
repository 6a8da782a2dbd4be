// Host side of the hand-written tiled GEMM core (kernels/cuda/tiled_gemm.cuh): the launch shape
// (tiles, split-K) and the launcher, shared by gemm.cu and conv_direct.cu. Include from .cu only.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/common/bf16.h"
#include "kernels/common/error.h"
#include "kernels/common/precision.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/tiled_gemm.cuh"

namespace busi::cuda::tiled {

struct LaunchShape {
  int tiles_m = 1, tiles_n = 1;
  int splits = 1;       // S: blocks along K (split-K)
  int k_per_split = 0;  // a multiple of kTileK
};

// Tiles of C and the split of K. Split-K is used when C has too few tiles to fill the GPU
// (e.g. the weight gradient of a convolution: C is 64 x 576 but K is 1.6 million): about 256
// blocks in all, each with at least 512 values of K. A function of the sizes only, so that the
// summation order, and the result, are the same on every GPU.
inline LaunchShape launch_shape(const char* what, int64_t M, int64_t N, int64_t K,
                                bool allow_split) {
  const int64_t limit = INT_MAX - 2 * kTileM;
  BUSI_CHECK(M <= limit && N <= limit && K <= limit, what, ": sizes M=", M, " N=", N, " K=", K,
             " exceed the hand-written kernel's 32-bit index range");
  LaunchShape shape;
  const int64_t tiles_m = (M + kTileM - 1) / kTileM, tiles_n = (N + kTileN - 1) / kTileN;
  BUSI_CHECK(tiles_m * tiles_n <= INT_MAX, what, ": ", tiles_m * tiles_n,
             " tiles exceed the grid limit");
  shape.tiles_m = static_cast<int>(tiles_m);
  shape.tiles_n = static_cast<int>(tiles_n);
  int64_t splits = 1;
  const int64_t tiles = tiles_m * tiles_n;
  if (allow_split && tiles < 256) {
    splits = std::min((256 + tiles - 1) / tiles, (K + 511) / 512);
    splits = std::max<int64_t>(1, splits);
  }
  int64_t per = (K + splits - 1) / splits;
  per = std::max<int64_t>(kTileK, (per + kTileK - 1) / kTileK * kTileK);
  shape.k_per_split = static_cast<int>(per);
  shape.splits = static_cast<int>(std::max<int64_t>(1, (K + per - 1) / per));
  return shape;
}

template <class Problem>
void launch_tiled_gemm(const Problem& p, const LaunchShape& shape) {
  const dim3 grid(static_cast<unsigned>(shape.tiles_m * shape.tiles_n),
                  static_cast<unsigned>(shape.splits));
  BUSI_LAUNCH(tiled_gemm_kernel<Problem>, grid, kThreads, 0, p, shape.tiles_n, shape.k_per_split);
}

// Adds the S partial results of a split-K GEMM, partial (S, M, N), in the order s = 0..S-1 and
// hands each sum to the problem's epilogue as split 0.
template <class Epilogue>
__global__ void sum_splits_kernel(int M, int N, int S, const float* partial, Epilogue e) {
  const int64_t count = int64_t(M) * N;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    float total = 0.0f;
    for (int s = 0; s < S; ++s) total += partial[s * count + i];
    e.store(static_cast<int>(i / N), static_cast<int>(i % N), 0, total);
  }
}

// The epilogue of the first stage of a split-K GEMM: partial[s][m][n] = value.
struct PartialStore {
  float* partial;  // (S, M, N)
  int M, N;
  __device__ void store(int m, int n, int split, float value) const {
    partial[(int64_t(split) * M + m) * N + n] = value;
  }
};

// A Problem made of an operand accessor (M, N, K, a, b, the layout flags) and an epilogue.
template <class Operands, class Epilogue>
struct Problem : Operands {
  Epilogue epilogue;
  __device__ void store(int m, int n, int split, float value) const {
    epilogue.store(m, n, split, value);
  }
};

// BF16 mode (kernels/common/precision.h): the operands as the kernel loads them, rounded to bf16
// (round to nearest even, kernels/common/bf16.h), so every product is of two bf16 values and the
// sums stay FP32 - the numbers of the CPU's bf16 GEMM up to the order of the sums. The storage
// stays FP32 and the FMAs are FP32 ones: correct bf16 numerics, not bf16 tensor-core speed.
template <class Operands>
struct Bf16Operands : Operands {
  __device__ float a(int m, int k) const { return round_to_bf16(Operands::a(m, k)); }
  __device__ float b(int k, int n) const { return round_to_bf16(Operands::b(k, n)); }
};

// C = A B through `epilogue`, split along K when that fills the GPU better (allow_split): then
// the partial tiles go to a scratch buffer (S, M, N) and sum_splits_kernel hands their sums to
// the epilogue.
template <class Operands, class Epilogue>
void run_tiled_gemm_as_is(const char* what, const Operands& operands, const Epilogue& epilogue,
                          bool allow_split) {
  if (operands.M <= 0 || operands.N <= 0) return;
  const LaunchShape shape = launch_shape(what, operands.M, operands.N, operands.K, allow_split);
  if (shape.splits == 1) {
    launch_tiled_gemm(Problem<Operands, Epilogue>{operands, epilogue}, shape);
    return;
  }
  const int64_t count = int64_t(operands.M) * operands.N;
  DeviceBuffer partial(static_cast<size_t>(shape.splits * count) * sizeof(float));  // (S, M, N)
  launch_tiled_gemm(Problem<Operands, PartialStore>{operands, PartialStore{partial.as<float>(),
                                                                           operands.M, operands.N}},
                    shape);
  BUSI_LAUNCH(sum_splits_kernel<Epilogue>, grid_for(count), kThreads, 0, operands.M, operands.N,
              shape.splits, partial.as<float>(), epilogue);
}

// run_tiled_gemm_as_is in the precision of the switch: FP32 operands, or bf16-rounded ones.
template <class Operands, class Epilogue>
void run_tiled_gemm(const char* what, const Operands& operands, const Epilogue& epilogue,
                    bool allow_split) {
  if (bf16_gemms())
    run_tiled_gemm_as_is(what, Bf16Operands<Operands>{operands}, epilogue, allow_split);
  else
    run_tiled_gemm_as_is(what, operands, epilogue, allow_split);
}

}  // namespace busi::cuda::tiled
