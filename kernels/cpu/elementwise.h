// CPU reference kernels for element-wise ops: broadcast add/sub/mul, the reduction of a
// broadcast gradient back to an input's shape, scale, add_scalar and relu. Templated on the
// scalar type so tests can run them in double precision.
#pragma once

#include <cstdint>

#include "kernels/common/broadcast.h"

namespace busi::cpu {

// out[i] = a[.] op b[.] over the broadcast shape s.
template <typename T>
void binary_forward(BinaryOp op, const BroadcastShape& s, const T* a, const T* b, T* out);

// Gradients of out = a op b. Each input's gradient is summed over the output elements that
// read it (the dimensions it was broadcast along):
//   add: da[j] = sum dy[i],        db[k] = sum dy[i]
//   sub: da[j] = sum dy[i],        db[k] = -sum dy[i]
//   mul: da[j] = sum dy[i] b[k(i)], db[k] = sum dy[i] a[j(i)]
// da or db may be null (no gradient wanted); a and b are read only for mul.
template <typename T>
void binary_backward(BinaryOp op, const BroadcastShape& s, const T* a, const T* b, const T* dy,
                     T* da, int64_t a_numel, T* db, int64_t b_numel);

template <typename T>
void scale_forward(const T* x, T s, T* y, int64_t n);  // y = s x
template <typename T>
void add_scalar_forward(const T* x, T s, T* y, int64_t n);  // y = x + s

// y = max(x, 0)
template <typename T>
void relu_forward(const T* x, T* y, int64_t n);
// dx = dy where y > 0, else 0 (the subgradient at 0 is taken as 0, as in PyTorch).
template <typename T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t n);

// Sum of n values, accumulated in double so a float sum of a large tensor stays accurate.
template <typename T>
T sum_all(const T* x, int64_t n);

}  // namespace busi::cpu
