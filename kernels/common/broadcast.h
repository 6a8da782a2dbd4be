// NumPy-style broadcasting of two shapes, as plain arrays that both the CPU and CUDA kernels can
// index: an output element's linear index is split into coordinates, and each input reads
// coordinate * stride, with stride 0 on the dimensions it is broadcast along.
#pragma once

#include <cstdint>

namespace busi {

constexpr int kMaxBroadcastDims = 8;

enum class BinaryOp { Add, Sub, Mul };

struct BroadcastShape {
  int ndim = 0;
  int64_t numel = 1;                         // elements of the output
  int64_t out[kMaxBroadcastDims] = {};       // output shape
  int64_t a_stride[kMaxBroadcastDims] = {};  // element strides of a (0 where broadcast)
  int64_t b_stride[kMaxBroadcastDims] = {};  // element strides of b (0 where broadcast)
};

// Offsets into a and b of output element i.
#if defined(__CUDACC__)
__host__ __device__
#endif
    inline void
    broadcast_offsets(const BroadcastShape& s, int64_t i, int64_t& a_off, int64_t& b_off) {
  a_off = 0;
  b_off = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % s.out[d];
    i /= s.out[d];
    a_off += coord * s.a_stride[d];
    b_off += coord * s.b_stride[d];
  }
}

}  // namespace busi
