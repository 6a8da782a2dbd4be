// CUDA element-wise kernels, twins of kernels/cpu/elementwise.cpp: broadcast add/sub/mul and
// their gradients, scale, add_scalar, relu. Grid-stride loops with 64-bit indices; float4 loads
// and stores where every pointer is 16-byte aligned. Deterministic (no atomics): a broadcast
// gradient is a reduction kernel over the broadcast dimensions, not a scatter.
#include <cuda_runtime.h>

#include <cstring>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/common/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/reduce.h"

namespace busi::cuda {

namespace {

// ---- Functors (the math of each op, one place) --------------------------------------------------

struct ScaleOp {
  float s;
  __device__ float operator()(float x) const { return s * x; }
};
struct AddScalarOp {
  float s;
  __device__ float operator()(float x) const { return x + s; }
};
// NaN > 0 is false, so relu(NaN) = 0 as on the CPU.
struct ReluOp {
  __device__ float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
};
// dx = dy where y > 0, else 0.
struct ReluBackwardOp {
  __device__ float operator()(float y, float dy) const { return y > 0.0f ? dy : 0.0f; }
};
template <BinaryOp kOp>
struct BinaryFunctor {
  __device__ float operator()(float x, float y) const {
    if (kOp == BinaryOp::Add) return x + y;
    if (kOp == BinaryOp::Sub) return x - y;
    return x * y;
  }
};

// ---- Maps over contiguous arrays ----------------------------------------------------------------

// y[i] = f(x[i]). With `vectorised` (x and y 16-byte aligned) the first n/4*4 elements move as
// float4 and the last n % 4 one by one. x may equal y (in place): each element is read before it
// is written, by the same thread.
template <class F>
__global__ void map_unary_kernel(int64_t n, const float* x, float* y, F f, bool vectorised) {
  const int64_t start = global_thread_index(), step = grid_thread_count();
  int64_t scalar_begin = 0;
  if (vectorised) {
    const int64_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = start; i < n4; i += step) {
      float4 v = x4[i];
      v.x = f(v.x);
      v.y = f(v.y);
      v.z = f(v.z);
      v.w = f(v.w);
      y4[i] = v;
    }
    scalar_begin = n4 * 4;
  }
  for (int64_t i = scalar_begin + start; i < n; i += step) y[i] = f(x[i]);
}

// y[i] = f(a[i], b[i]), vectorised like map_unary_kernel.
template <class F>
__global__ void map_binary_kernel(int64_t n, const float* a, const float* b, float* y, F f,
                                  bool vectorised) {
  const int64_t start = global_thread_index(), step = grid_thread_count();
  int64_t scalar_begin = 0;
  if (vectorised) {
    const int64_t n4 = n / 4;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = start; i < n4; i += step) {
      const float4 u = a4[i], v = b4[i];
      y4[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
    }
    scalar_begin = n4 * 4;
  }
  for (int64_t i = scalar_begin + start; i < n; i += step) y[i] = f(a[i], b[i]);
}

template <class F>
void launch_unary(int64_t n, const float* x, float* y, F f, const char* name) {
  if (n <= 0) return;
  const bool vectorised = aligned16(x) && aligned16(y);
  // Launched under the op's name ("map_unary_kernel(relu)"), which errors then report.
  launch_kernel(name, __FILE__, __LINE__, map_unary_kernel<F>,
                grid_for(vectorised ? (n + 3) / 4 : n), kThreads, 0, n, x, y, f, vectorised);
}

template <class F>
void launch_binary(int64_t n, const float* a, const float* b, float* y, F f, const char* name) {
  if (n <= 0) return;
  const bool vectorised = aligned16(a) && aligned16(b) && aligned16(y);
  launch_kernel(name, __FILE__, __LINE__, map_binary_kernel<F>,
                grid_for(vectorised ? (n + 3) / 4 : n), kThreads, 0, n, a, b, y, f, vectorised);
}

// ---- Broadcasting -------------------------------------------------------------------------------

// The same broadcast with fewer dimensions: size-1 dimensions dropped, and neighbouring
// dimensions merged where both inputs continue contiguously (or stay broadcast) across them. A
// same-shape op becomes one dimension; a per-channel bias (N, C, H, W) + (1, C, 1, 1) becomes
// (N, C, H*W) with b strides (0, 1, 0). Fewer dimensions = fewer divisions per element.
BroadcastShape coalesce(const BroadcastShape& s) {
  BroadcastShape r;
  r.numel = s.numel;
  r.ndim = 0;
  for (int d = 0; d < s.ndim; ++d) {
    if (s.out[d] == 1) continue;
    if (r.ndim > 0) {
      const int last = r.ndim - 1;
      const bool a_continues = r.a_stride[last] == s.a_stride[d] * s.out[d];
      const bool b_continues = r.b_stride[last] == s.b_stride[d] * s.out[d];
      if (a_continues && b_continues) {
        r.out[last] *= s.out[d];
        r.a_stride[last] = s.a_stride[d];
        r.b_stride[last] = s.b_stride[d];
        continue;
      }
    }
    r.out[r.ndim] = s.out[d];
    r.a_stride[r.ndim] = s.a_stride[d];
    r.b_stride[r.ndim] = s.b_stride[d];
    ++r.ndim;
  }
  if (r.ndim == 0) {  // a single element
    r.ndim = 1;
    r.out[0] = 1;
    r.a_stride[0] = r.b_stride[0] = 0;
  }
  return r;
}

bool is_contiguous_1d(const BroadcastShape& s) {
  return s.ndim == 1 && s.a_stride[0] == 1 && s.b_stride[0] == 1;
}

// out[i] = f(a[ia], b[ib]) over the broadcast shape.
template <typename Index, class F>
__global__ void broadcast_binary_kernel(BroadcastShape s, const float* a, const float* b,
                                        float* out, F f) {
  const Index n = static_cast<Index>(s.numel);
  const Index step = static_cast<Index>(grid_thread_count());
  for (Index i = static_cast<Index>(global_thread_index()); i < n; i += step) {
    Index ia, ib;
    broadcast_offsets(s, i, ia, ib);
    out[i] = f(a[ia], b[ib]);
  }
}

template <class F>
void launch_broadcast(const BroadcastShape& s, const float* a, const float* b, float* out, F f) {
  // 32-bit indices when every offset fits (with room for the grid-stride step past the end).
  const bool small = s.numel < (int64_t(1) << 30);
  if (small) {
    BUSI_LAUNCH((broadcast_binary_kernel<uint32_t, F>), grid_for(s.numel), kThreads, 0, s, a, b,
                out, f);
  } else {
    BUSI_LAUNCH((broadcast_binary_kernel<int64_t, F>), grid_for(s.numel), kThreads, 0, s, a, b, out,
                f);
  }
}

template <BinaryOp kOp>
void binary_forward_op(const BroadcastShape& s, const float* a, const float* b, float* out) {
  if (is_contiguous_1d(s)) {
    launch_binary(s.numel, a, b, out, BinaryFunctor<kOp>{}, "map_binary_kernel");
  } else {
    launch_broadcast(s, a, b, out, BinaryFunctor<kOp>{});
  }
}

// ---- Broadcast gradients ------------------------------------------------------------------------

// How the gradient of one input ("self", contiguous) is gathered from the output gradient:
// self element j is the sum over the reduced dimensions (where self was broadcast, stride 0) at
// the coordinates of j in the kept dimensions. The other input is read for mul.
struct ReducePlan {
  int kept_ndim = 0, red_ndim = 0;
  int64_t kept_size[kMaxBroadcastDims] = {}, red_size[kMaxBroadcastDims] = {};
  int64_t kept_out_stride[kMaxBroadcastDims] = {}, red_out_stride[kMaxBroadcastDims] = {};
  int64_t kept_other_stride[kMaxBroadcastDims] = {}, red_other_stride[kMaxBroadcastDims] = {};
  int64_t kept_numel = 1, red_numel = 1;
};

// self_stride / other_stride: the coalesced strides of the input whose gradient is wanted and of
// the other input. Self is contiguous, so its kept dimensions, in order, are its own row-major
// layout: j decomposes over kept_size.
ReducePlan make_reduce_plan(const BroadcastShape& s, const int64_t* self_stride,
                            const int64_t* other_stride) {
  ReducePlan p;
  int64_t out_stride = 1;
  int64_t out_strides[kMaxBroadcastDims];
  for (int d = s.ndim - 1; d >= 0; --d) {
    out_strides[d] = out_stride;
    out_stride *= s.out[d];
  }
  for (int d = 0; d < s.ndim; ++d) {
    if (self_stride[d] != 0) {
      p.kept_size[p.kept_ndim] = s.out[d];
      p.kept_out_stride[p.kept_ndim] = out_strides[d];
      p.kept_other_stride[p.kept_ndim] = other_stride[d];
      p.kept_numel *= s.out[d];
      ++p.kept_ndim;
    } else {
      p.red_size[p.red_ndim] = s.out[d];
      p.red_out_stride[p.red_ndim] = out_strides[d];
      p.red_other_stride[p.red_ndim] = other_stride[d];
      p.red_numel *= s.out[d];
      ++p.red_ndim;
    }
  }
  return p;
}

// Offsets (in dy and in the other input) of item `index` of a set of dimensions.
__device__ __forceinline__ void plan_offsets(int ndim, const int64_t* size,
                                             const int64_t* out_stride, const int64_t* other_stride,
                                             int64_t index, int64_t& out_off, int64_t& other_off) {
  out_off = 0;
  other_off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t coord = index % size[d];
    index /= size[d];
    out_off += coord * out_stride[d];
    other_off += coord * other_stride[d];
  }
}

// grad[j] = sign * sum over the reduced dimensions of dy (times the other input for mul).
// One group of kGroup threads per j (a warp, or a whole block for long reductions): thread t of
// the group adds items t, t + kGroup, ... and the group sums by a fixed tree, so the result is
// deterministic. Accumulated in double.
template <bool kMul, int kGroup>
__global__ void reduce_broadcast_grad_kernel(ReducePlan p, const float* dy, const float* other,
                                             float sign, float* grad) {
  __shared__ double scratch[32];
  const int lane = threadIdx.x % kGroup;
  const int64_t groups_per_block = blockDim.x / kGroup;
  const int64_t first = blockIdx.x * groups_per_block + threadIdx.x / kGroup;
  const int64_t step = int64_t(gridDim.x) * groups_per_block;
  // For kGroup == blockDim.x every thread of a block takes the same j, so the loop (and the
  // block_sum barriers inside it) is uniform across the block.
  for (int64_t j = first; j < p.kept_numel; j += step) {
    int64_t out_base, other_base;
    plan_offsets(p.kept_ndim, p.kept_size, p.kept_out_stride, p.kept_other_stride, j, out_base,
                 other_base);
    double acc = 0.0;
    for (int64_t r = lane; r < p.red_numel; r += kGroup) {
      int64_t out_off, other_off;
      plan_offsets(p.red_ndim, p.red_size, p.red_out_stride, p.red_other_stride, r, out_off,
                   other_off);
      const float g = dy[out_base + out_off];
      acc += kMul ? g * other[other_base + other_off] : g;
    }
    const double total = kGroup == 32 ? warp_sum(acc) : block_sum(acc, scratch);
    if (lane == 0) grad[j] = sign * static_cast<float>(total);
  }
}

// Long reductions get a block of 256 threads per gradient element, short ones a warp.
constexpr int64_t kBlockReductionFrom = 4096;

void reduce_broadcast_grad(const ReducePlan& p, bool mul, const float* dy, const float* other,
                           float sign, float* grad) {
  const bool per_block = p.red_numel >= kBlockReductionFrom;
  const int64_t groups_per_block = per_block ? 1 : kThreads / 32;
  const int64_t blocks_needed = (p.kept_numel + groups_per_block - 1) / groups_per_block;
  const unsigned blocks = static_cast<unsigned>(
      std::max<int64_t>(1, std::min<int64_t>(blocks_needed, int64_t(sm_count()) * 32)));
  if (per_block) {
    if (mul)
      BUSI_LAUNCH((reduce_broadcast_grad_kernel<true, kThreads>), blocks, kThreads, 0, p, dy, other,
                  sign, grad);
    else
      BUSI_LAUNCH((reduce_broadcast_grad_kernel<false, kThreads>), blocks, kThreads, 0, p, dy,
                  other, sign, grad);
  } else {
    if (mul)
      BUSI_LAUNCH((reduce_broadcast_grad_kernel<true, 32>), blocks, kThreads, 0, p, dy, other, sign,
                  grad);
    else
      BUSI_LAUNCH((reduce_broadcast_grad_kernel<false, 32>), blocks, kThreads, 0, p, dy, other,
                  sign, grad);
  }
}

// Gradient of one input: `self` / `other` strides of the coalesced shape. Without reduced
// dimensions (the input has the output's shape) it is element-wise: dy, -dy or dy * other.
void input_gradient(BinaryOp op, const BroadcastShape& s, const int64_t* self_stride,
                    const int64_t* other_stride, const float* dy, const float* other, float sign,
                    float* grad) {
  const ReducePlan plan = make_reduce_plan(s, self_stride, other_stride);
  const bool mul = op == BinaryOp::Mul;
  if (plan.red_numel > 1 && !mul && plan.kept_ndim == 1) {
    // One kept dimension between reduced ones, e.g. the bias gradient (N, C, HW) -> (C): the
    // two-stage per-channel sums spread it over the whole GPU (reduce_broadcast_grad would give
    // each of the C channels a single block).
    int64_t before = 1, after = 1, channels = 1;
    bool seen = false;
    for (int d = 0; d < s.ndim; ++d) {
      if (self_stride[d] != 0) {
        channels = s.out[d];
        seen = true;
      } else {
        (seen ? after : before) *= s.out[d];
      }
    }
    channel_sums(before, channels, after, dy, grad);
    if (sign != 1.0f) launch_unary(channels, grad, grad, ScaleOp{sign}, "map_unary_kernel(scale)");
  } else if (plan.red_numel > 1) {
    reduce_broadcast_grad(plan, mul, dy, other, sign, grad);
  } else if (mul) {
    // grad (output shape) = dy * other broadcast: a broadcast product with dy as "a".
    BroadcastShape product = s;
    for (int d = 0; d < s.ndim; ++d) {
      product.a_stride[d] = self_stride[d];  // self has the output's shape: contiguous strides
      product.b_stride[d] = other_stride[d];
    }
    launch_broadcast(product, dy, other, grad, BinaryFunctor<BinaryOp::Mul>{});
  } else if (sign == 1.0f) {
    copy_device_to_device(grad, dy, static_cast<size_t>(s.numel) * sizeof(float));
  } else {
    launch_unary(s.numel, dy, grad, ScaleOp{sign}, "map_unary_kernel(scale)");
  }
}

}  // namespace

// ---- Entry points (kernels/cuda/elementwise.h) --------------------------------------------------

void binary_forward(BinaryOp op, const BroadcastShape& shape, const float* a, const float* b,
                    float* out) {
  if (shape.numel <= 0) return;
  const BroadcastShape s = coalesce(shape);
  switch (op) {
    case BinaryOp::Add:
      binary_forward_op<BinaryOp::Add>(s, a, b, out);
      break;
    case BinaryOp::Sub:
      binary_forward_op<BinaryOp::Sub>(s, a, b, out);
      break;
    case BinaryOp::Mul:
      binary_forward_op<BinaryOp::Mul>(s, a, b, out);
      break;
  }
}

// add: da = sum dy, db = sum dy; sub: da = sum dy, db = -sum dy; mul: da = sum dy b, db = sum dy a
// (sums over the dimensions each input was broadcast along; see kernels/cpu/elementwise.h).
void binary_backward(BinaryOp op, const BroadcastShape& shape, const float* a, const float* b,
                     const float* dy, float* da, int64_t a_numel, float* db, int64_t b_numel) {
  if (shape.numel <= 0) {  // an empty output: every gradient is an empty sum
    if (da) fill(da, 0.0f, a_numel);
    if (db) fill(db, 0.0f, b_numel);
    return;
  }
  const BroadcastShape s = coalesce(shape);
  if (da) input_gradient(op, s, s.a_stride, s.b_stride, dy, b, 1.0f, da);
  if (db)
    input_gradient(op, s, s.b_stride, s.a_stride, dy, a, op == BinaryOp::Sub ? -1.0f : 1.0f, db);
}

void scale_forward(const float* x, float s, float* y, int64_t n) {
  launch_unary(n, x, y, ScaleOp{s}, "map_unary_kernel(scale)");
}

void add_scalar_forward(const float* x, float s, float* y, int64_t n) {
  launch_unary(n, x, y, AddScalarOp{s}, "map_unary_kernel(add_scalar)");
}

void relu_forward(const float* x, float* y, int64_t n) {
  launch_unary(n, x, y, ReluOp{}, "map_unary_kernel(relu)");
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  launch_binary(n, y, dy, dx, ReluBackwardOp{}, "map_binary_kernel(relu_backward)");
}

}  // namespace busi::cuda
