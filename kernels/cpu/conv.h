// CPU kernels for 2-d convolution (cross-correlation), forward and backward. Templated on the
// scalar type (double in the gradient checks). Three algorithms compute the same sums:
//   im2col         the reference: each image's receptive fields unrolled into a column matrix,
//                  then one matrix product (conv_im2col.cpp); every other path is tested
//                  against it and against the direct loops of the tests
//   im2col_packed  the same products with the unrolling fused into the GEMM's packing: the
//                  column matrix is never written out (conv_im2col_packed.cpp)
//   winograd       F(2x2, 3x3) for 3x3 stride-1 layers: 2.25x fewer multiplications, rounding
//                  within a bound proved in conv_winograd.cpp; in BF16 mode its products
//                  round the transformed tiles to bf16 (docs/bf16.md)
//   winograd4x4    F(4x4, 3x3): 4x fewer multiplications, larger transforms and a looser
//                  rounding bound (conv_winograd_f4x4_transforms.h); FP32 in every mode
// In BF16 mode the im2col paths round their GEMM operands to bf16 (products and sums FP32).
// `automatic` picks per layer shape and direction from a fixed table for each precision mode
// (choose_conv_algorithms in conv.cpp), so a given shape always runs the same algorithm on a
// machine and training stays deterministic.
#pragma once

#include "kernels/common/shapes.h"

namespace busi::cpu {

enum class ConvAlgorithm { automatic, im2col, im2col_packed, winograd, winograd4x4 };

const char* conv_algorithm_name(ConvAlgorithm algorithm);

// Whether `algorithm` can compute shape s (either Winograd: 3x3 kernels, stride 1, padding <= 2).
bool conv_algorithm_applies(ConvAlgorithm algorithm, const Conv2dShape& s);

// What `automatic` runs for s in the precision mode now (kernels/common/precision.h): the
// forward, the input gradient dx and the weight gradient dw.
struct ConvChoice {
  ConvAlgorithm forward, backward_data, backward_filter;
};
ConvChoice choose_conv_algorithms(const Conv2dShape& s);

// y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, c, i*s - pad + p, j*s - pad + q]
// (x read as 0 outside the image). b may be null.
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y,
                    ConvAlgorithm algorithm = ConvAlgorithm::automatic);

// dx[n,c,h,v] = sum over (o,p,q,i,j) with h = i*s - pad + p, v = j*s - pad + q of w[o,c,p,q] dy[n,o,i,j]
// dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] x[n, c, i*s - pad + p, j*s - pad + q]
// db[o]       = sum_{n,i,j} dy[n,o,i,j]
// Any of dx, dw, db may be null (not wanted: frozen weights, or the network's input). A forced
// algorithm is used for dx and dw alike.
template <typename T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                     ConvAlgorithm algorithm = ConvAlgorithm::automatic);

}  // namespace busi::cpu
