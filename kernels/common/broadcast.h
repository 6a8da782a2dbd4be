// NumPy-style broadcasting of two shapes, as plain arrays that both the CPU and CUDA kernels can
// index: an output element's linear index is split into coordinates, and each input reads
// coordinate * stride, with stride 0 on the dimensions it is broadcast along.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

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

// Offsets into a and b of output element i. Index is the integer type of the arithmetic: the CUDA
// kernels use 32 bits when the tensors are small enough, as 32-bit division is several times
// cheaper than 64-bit on a GPU.
template <typename Index = int64_t>
BUSI_HOST_DEVICE inline void broadcast_offsets(const BroadcastShape& s, Index i, Index& a_off,
                                               Index& b_off) {
  a_off = 0;
  b_off = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    const Index size = static_cast<Index>(s.out[d]);
    const Index coord = i % size;
    i /= size;
    a_off += coord * static_cast<Index>(s.a_stride[d]);
    b_off += coord * static_cast<Index>(s.b_stride[d]);
  }
}

}  // namespace busi
