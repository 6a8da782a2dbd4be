// Hand-written CUDA convolution by implicit GEMM, twin of kernels/cpu/conv.cpp (selected with
// BUSI_CONV=handwritten). The CPU builds the im2col matrix and multiplies; here each of the three
// products reads the image (or the output gradient) as if it were that matrix, inside the tiled
// SGEMM core (tiled_gemm.cuh), so the unrolled matrix never exists. With P = Ho*Wo,
// KK = kH*kW and (c, p, q) / (n, i, j) the coordinates packed into a GEMM index:
//   forward          y  (O, N*P)     = w (O, C*KK)  x  cols (C*KK, N*P)
//                    cols[(c,p,q), (n,i,j)] = x[n, c, i*s - pad + p, j*s - pad + q] (0 outside)
//   backward data    dx (C, N*H*W)   = w' (C, O*KK) x  dys (O*KK, N*H*W)
//                    w'[c, (o,p,q)] = w[o, c, p, q]
//                    dys[(o,p,q), (n,h,v)] = dy[n, o, (h + pad - p)/s, (v + pad - q)/s] when both
//                    divisions are exact and land inside the output, else 0
//   backward filter  dw (O, C*KK)    = dy (O, N*P)  x  cols^T (N*P, C*KK)
// The filter gradient has few output tiles and a long K (N*P): split-K spreads it over the GPU
// and sums the splits in a fixed order. db is a per-channel sum of dy. Plain FP32 (FMA), always.
#include <cuda_runtime.h>

#include <climits>

#include "kernels/common/error.h"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/tiled_gemm.h"

namespace busi::cuda {

namespace {

// The convolution's sizes as int (the GEMM core's index type; checked on the host).
struct ConvGeometry {
  int N, C, H, W, O, kH, kW, stride, pad, Ho, Wo;
};

ConvGeometry geometry(const Conv2dShape& s) {
  const int64_t limit = INT_MAX / 2;
  BUSI_CHECK(s.N * s.C * s.H * s.W < limit && s.N * s.O * s.Ho * s.Wo < limit &&
                 s.O * s.C * s.kH * s.kW < limit,
             "conv2d (hand-written): tensors of more than 2^30 elements are not supported "
             "(use BUSI_CONV=cudnn)");
  auto i = [](int64_t v) { return static_cast<int>(v); };
  return {i(s.N),  i(s.C),      i(s.H),   i(s.W),  i(s.O), i(s.kH),
          i(s.kW), i(s.stride), i(s.pad), i(s.Ho), i(s.Wo)};
}

// x[n, c, h, v], or 0 in the padding.
__device__ __forceinline__ float image_at(const ConvGeometry& g, const float* x, int n, int c,
                                          int h, int v) {
  if (h < 0 || h >= g.H || v < 0 || v >= g.W) return 0.0f;
  return x[((int64_t(n) * g.C + c) * g.H + h) * g.W + v];
}

// ---- Forward: y (O, N*P) = w (O, C*KK) cols (C*KK, N*P) -----------------------------------------

struct ForwardOperands {
  int M, N, K;  // O, N*P, C*KK
  ConvGeometry g;
  const float* x;                         // (N, C, H, W)
  const float* w;                         // (O, C, kH, kW) = (O, C*KK) row-major
  static constexpr bool kAAlongK = true;  // w rows are contiguous
  static constexpr bool kBAlongN = true;  // neighbouring output positions read neighbouring x
  __device__ float a(int o, int k) const { return w[int64_t(o) * K + k]; }
  __device__ float b(int k, int col) const {
    const int KK = g.kH * g.kW, P = g.Ho * g.Wo;
    const int c = k / KK, pq = k - c * KK, p = pq / g.kW, q = pq - p * g.kW;
    const int n = col / P, ij = col - n * P, i = ij / g.Wo, j = ij - i * g.Wo;
    return image_at(g, x, n, c, i * g.stride - g.pad + p, j * g.stride - g.pad + q);
  }
};

// y[n, o, i, j] = value + b[o], then max(., 0) when relu (as add_bias_relu in conv.cu does it)
struct ForwardStore {
  float* y;
  const float* bias;  // (O) or null
  int O, P;
  bool relu;
  __device__ void store(int o, int col, int, float value) const {
    const int n = col / P, ij = col - n * P;
    const float v = bias ? value + bias[o] : value;
    y[(int64_t(n) * O + o) * P + ij] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
};

// ---- Backward data: dx (C, N*H*W) = w' (C, O*KK) dys (O*KK, N*H*W) ------------------------------

struct BackwardDataOperands {
  int M, N, K;  // C, N*H*W, O*KK
  ConvGeometry g;
  const float* w;                         // (O, C, kH, kW)
  const float* dy;                        // (N, O, Ho, Wo)
  static constexpr bool kAAlongK = true;  // (p, q) neighbours are neighbours in w
  static constexpr bool kBAlongN = true;
  __device__ float a(int c, int k) const {
    const int KK = g.kH * g.kW;
    const int o = k / KK, pq = k - o * KK;
    return w[(int64_t(o) * g.C + c) * KK + pq];
  }
  // Output position (i, j) reads input (i*s - pad + p, j*s - pad + q), so input (h, v) received
  // from (i, j) = ((h + pad - p) / s, (v + pad - q) / s) when those are exact and in range.
  __device__ float b(int k, int col) const {
    const int KK = g.kH * g.kW, HW = g.H * g.W;
    const int o = k / KK, pq = k - o * KK, p = pq / g.kW, q = pq - p * g.kW;
    const int n = col / HW, hv = col - n * HW, h = hv / g.W, v = hv - h * g.W;
    const int ti = h + g.pad - p, tj = v + g.pad - q;
    if (ti < 0 || tj < 0 || ti % g.stride != 0 || tj % g.stride != 0) return 0.0f;
    const int i = ti / g.stride, j = tj / g.stride;
    if (i >= g.Ho || j >= g.Wo) return 0.0f;
    return dy[((int64_t(n) * g.O + o) * g.Ho + i) * g.Wo + j];
  }
};

// dx[n, c, h, v] = value
struct BackwardDataStore {
  float* dx;
  int C, HW;
  __device__ void store(int c, int col, int, float value) const {
    const int n = col / HW, hv = col - n * HW;
    dx[(int64_t(n) * C + c) * HW + hv] = value;
  }
};

// ---- Backward filter: dw (O, C*KK) = dy (O, N*P) cols^T (N*P, C*KK) -----------------------------

struct BackwardFilterOperands {
  int M, N, K;  // O, C*KK, N*P
  ConvGeometry g;
  const float* x;                         // (N, C, H, W)
  const float* dy;                        // (N, O, Ho, Wo)
  static constexpr bool kAAlongK = true;  // neighbouring positions of one dy plane
  static constexpr bool kBAlongN = true;  // neighbouring q read neighbouring x
  __device__ float a(int o, int k) const {
    const int P = g.Ho * g.Wo;
    const int n = k / P, ij = k - n * P;
    return dy[(int64_t(n) * g.O + o) * P + ij];
  }
  __device__ float b(int k, int col) const {
    const int KK = g.kH * g.kW, P = g.Ho * g.Wo;
    const int n = k / P, ij = k - n * P, i = ij / g.Wo, j = ij - i * g.Wo;
    const int c = col / KK, pq = col - c * KK, p = pq / g.kW, q = pq - p * g.kW;
    return image_at(g, x, n, c, i * g.stride - g.pad + p, j * g.stride - g.pad + q);
  }
};

// dw[o, col] = value
struct BackwardFilterStore {
  float* dw;
  int columns;
  __device__ void store(int o, int col, int, float value) const {
    dw[int64_t(o) * columns + col] = value;
  }
};

}  // namespace

void conv2d_forward_handwritten(const Conv2dShape& s, const float* x, const float* w,
                                const float* b, float* y, bool relu) {
  const ConvGeometry g = geometry(s);
  const int P = g.Ho * g.Wo;
  const ForwardOperands operands{g.O, g.N * P, g.C * g.kH * g.kW, g, x, w};
  tiled::run_tiled_gemm("conv2d forward (hand-written)", operands, ForwardStore{y, b, g.O, P, relu},
                        true);
}

void conv2d_backward_handwritten(const Conv2dShape& s, const float* x, const float* w,
                                 const float* dy, float* dx, float* dw, float* db) {
  const ConvGeometry g = geometry(s);
  const int KK = g.kH * g.kW, P = g.Ho * g.Wo;
  if (db) channel_sums(s.N, s.O, s.Ho * s.Wo, dy, db);
  if (dx) {
    const BackwardDataOperands operands{g.C, g.N * g.H * g.W, g.O * KK, g, w, dy};
    tiled::run_tiled_gemm("conv2d backward data (hand-written)", operands,
                          BackwardDataStore{dx, g.C, g.H * g.W}, true);
  }
  if (dw) {
    const BackwardFilterOperands operands{g.O, g.C * KK, g.N * P, g, x, dy};
    tiled::run_tiled_gemm("conv2d backward filter (hand-written)", operands,
                          BackwardFilterStore{dw, g.C * KK}, true);
  }
}

}  // namespace busi::cuda
