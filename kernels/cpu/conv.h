// CPU reference kernels for 2-d convolution (cross-correlation), forward and backward, by
// im2col + the blocked GEMM. Templated on the scalar type (double in the gradient checks).
#pragma once

#include "kernels/common/shapes.h"

namespace busi::cpu {

// y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, c, i*s - pad + p, j*s - pad + q]
// (x read as 0 outside the image). b may be null.
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y);

// dx[n,c,h,v] = sum over (o,p,q,i,j) with h = i*s - pad + p, v = j*s - pad + q of w[o,c,p,q] dy[n,o,i,j]
// dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] x[n, c, i*s - pad + p, j*s - pad + q]
// db[o]       = sum_{n,i,j} dy[n,o,i,j]
// Any of dx, dw, db may be null (not wanted: frozen weights, or the network's input).
template <typename T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db);

}  // namespace busi::cpu
