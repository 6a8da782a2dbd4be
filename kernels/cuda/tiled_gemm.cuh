// The hand-written tiled SGEMM core (device code), shared by the SGEMM of gemm.cu and the
// implicit-GEMM convolutions of conv_direct.cu. It computes C (M x N) = A (M x K) B (K x N) where
// A, B and C are not arrays but accessors of a Problem, so a convolution can read its input
// image as if it were the unrolled im2col matrix, without ever building it.
//
// The scheme (the classic register-blocked SGEMM, written plainly):
//   - a block of 256 threads owns a 128 x 128 tile of C;
//   - it walks K in slices of 8: the 128 x 8 slice of A and the 8 x 128 slice of B are staged in
//     shared memory (16 KiB with the double buffer), each thread loading 4 + 4 values;
//   - each thread keeps an 8 x 8 tile of C in registers: per k it reads 8 values of A and 8 of B
//     from shared memory (four float4 reads) and does 64 FMAs - 4 FMAs per shared load;
//   - double buffering: while the block computes on slice t from one buffer, each thread has
//     already issued the global loads of slice t+1 into registers, and stores them to the other
//     buffer afterwards; one __syncthreads per slice.
// A thread's 8 x 8 outputs are rows {4 ty .. 4 ty + 3} and {64 + 4 ty .. 64 + 4 ty + 3} (and the
// same for columns with tx): two float4 per operand per k, and the 16 threads of a half warp
// read 256 contiguous bytes of B (no bank conflicts).
// Split-K: with gridDim.y = S > 1, block (tile, s) covers only k in [s * k_per_split, ...) and
// the problem's epilogue receives the split index (the caller then adds the S partial tiles in
// a fixed order, so the result is still deterministic).
//
// A Problem provides:
//   int M, N, K;
//   static constexpr bool kAAlongK: A(m, k), A(m, k+1) are neighbours in memory (else A(m+1, k));
//   static constexpr bool kBAlongN: B(k, n), B(k, n+1) are neighbours in memory (else B(k+1, n));
//   __device__ float a(int m, int k) const;   // called only with m < M, k < K
//   __device__ float b(int k, int n) const;   // called only with k < K, n < N
//   __device__ void store(int m, int n, int split, float value) const;  // m < M, n < N
// Indices are int (the host checks M, N, K < 2^31 - 256); the problem computes memory offsets
// in 64 bits.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace busi::cuda::tiled {

constexpr int kTileM = 128, kTileN = 128, kTileK = 8;
constexpr int kThreads = 256;  // 16 x 16 threads, 8 x 8 outputs each
// Shared rows padded by 4 floats: the transposing stores (4 values along k from one thread) hit
// different banks, and rows stay 16-byte aligned for the float4 reads (132 * 4 = 33 * 16 bytes).
constexpr int kRowA = kTileM + 4, kRowB = kTileN + 4;

// __launch_bounds__(256, 2): at most 128 registers per thread, so two blocks (16 warps) share an
// SM and one block's loads overlap the other's FMAs.
template <class Problem>
__global__ void __launch_bounds__(kThreads, 2)
    tiled_gemm_kernel(Problem p, int tiles_n, int k_per_split) {
  __shared__ __align__(16) float As[2][kTileK][kRowA];  // A slice, k-major: As[k][m]
  __shared__ __align__(16) float Bs[2][kTileK][kRowB];  // B slice: Bs[k][n]

  const int t = threadIdx.x;
  const int m0 = (blockIdx.x / tiles_n) * kTileM;
  const int n0 = (blockIdx.x % tiles_n) * kTileN;
  const int split = blockIdx.y;
  const int k_begin = split * k_per_split;
  // k_begin < K, but k_begin + k_per_split can pass INT_MAX when K is near the host's limit.
  const int k_end = k_begin + min(k_per_split, p.K - k_begin);

  // The four A and four B values this thread loads per slice: four neighbours in memory, so
  // consecutive threads read consecutive addresses.
  const int a_m = Problem::kAAlongK ? t / 2 : (t % 32) * 4;
  const int a_k = Problem::kAAlongK ? (t % 2) * 4 : t / 32;
  const int b_k = Problem::kBAlongN ? t / 32 : (t % 2) * 4;
  const int b_n = Problem::kBAlongN ? (t % 32) * 4 : t / 2;
  float a_next[4], b_next[4];

  auto load_slice = [&](int k0) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int m = m0 + a_m + (Problem::kAAlongK ? 0 : i);
      const int k = k0 + a_k + (Problem::kAAlongK ? i : 0);
      a_next[i] = (m < p.M && k < k_end) ? p.a(m, k) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int k = k0 + b_k + (Problem::kBAlongN ? 0 : i);
      const int n = n0 + b_n + (Problem::kBAlongN ? i : 0);
      b_next[i] = (k < k_end && n < p.N) ? p.b(k, n) : 0.0f;
    }
  };
  auto store_slice = [&](int buf) {
    if (Problem::kAAlongK) {
#pragma unroll
      for (int i = 0; i < 4; ++i) As[buf][a_k + i][a_m] = a_next[i];
    } else {
      *reinterpret_cast<float4*>(&As[buf][a_k][a_m]) =
          make_float4(a_next[0], a_next[1], a_next[2], a_next[3]);
    }
    if (Problem::kBAlongN) {
      *reinterpret_cast<float4*>(&Bs[buf][b_k][b_n]) =
          make_float4(b_next[0], b_next[1], b_next[2], b_next[3]);
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) Bs[buf][b_k + i][b_n] = b_next[i];
    }
  };

  const int tx = t % 16, ty = t / 16;
  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

  const int slices = k_end > k_begin ? (k_end - k_begin + kTileK - 1) / kTileK : 0;
  if (slices > 0) {
    load_slice(k_begin);
    store_slice(0);
  }
  __syncthreads();
  for (int s = 0; s < slices; ++s) {
    const int buf = s & 1;
    const bool has_next = s + 1 < slices;
    if (has_next) load_slice(k_begin + (s + 1) * kTileK);  // in flight during the FMAs below
#pragma unroll
    for (int k = 0; k < kTileK; ++k) {
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[buf][k][64 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&Bs[buf][k][64 + tx * 4]);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // The other buffer was last read in iteration s - 1, which every thread finished before
    // the barrier that ended it: safe to overwrite now.
    if (has_next) store_slice(buf ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int n = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
      if (n < p.N) p.store(m, n, split, acc[i][j]);
    }
  }
}

}  // namespace busi::cuda::tiled
