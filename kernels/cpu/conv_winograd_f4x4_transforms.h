// The Winograd F(4x4, 3x3) transforms (Lavin and Gray 2016, interpolation points 0, +-1, +-2 and
// infinity), written out; F(2x2, 3x3) and the shape of every function are in
// conv_winograd_transforms.h. A 4x4 tile of outputs of a 3x3 correlation is
//   Y (4x4) = A^T [ (G g G^T) (.) (B^T d B) ] A,   d the 6x6 input tile, g the 3x3 filter, with
//   B^T = | 4  0 -5  0  1  0 |    G = |  1/4     0     0   |    A^T = | 1  1  1  1  1  0 |
//         | 0 -4 -4  1  1  0 |        | -1/6  -1/6  -1/6  |          | 0  1 -1  2 -2  0 |
//         | 0  4 -4 -1  1  0 |        | -1/6   1/6  -1/6  |          | 0  1  1  4  4  0 |
//         | 0 -2 -1  2  1  0 |        |  1/24  1/12  1/6  |          | 0  1 -1  8 -8  1 |
//         | 0  2 -1 -2  1  0 |        |  1/24 -1/12  1/6  |
//         | 0  4  0 -5  0  1 |        |  0     0     1    |
// 36 multiplications per tile and channel pair instead of 144 (4x fewer; F(2x2, 3x3): 2.25x).
// The price is in the rounding: the coefficients reach 5 (B), 8 (A) and 1/24 (G), so a result is
// accurate relative to sums of |.| up to a few hundred times the direct sum's. To first order
//   |y_computed - y| <= (C + 32) u  |A^T| ( sum_c (|G| |g_c| |G^T|) (.) (|B^T| |d_c| |B|) ) |A|
// (32 for the transforms' roundings: two passes of sums of up to 5 terms each, the constants
// 1/6, 1/12 and 1/24 inexact, and the bias). tests/test_conv_algorithms.cpp checks this bound
// and the weight gradient's element by element, in float against double, on both models' layer
// shapes: the worst error measured was 1.7 % of its bound. bf16 never uses it (docs/bf16.md).
//
// Each 2-d transform X -> L X L^T is a 1-d transform applied to the columns, then to the rows:
// the *_1d functions below are the 1-d ones, and the block functions run them over a block of
// tiles with separable_block (conv_winograd_transforms.h).
#pragma once

#include <cstdint>

#include "kernels/cpu/conv_winograd_transforms.h"

namespace busi::cpu::winograd {

struct F4x4 {
  static constexpr int64_t m = 4;           // output tile side
  static constexpr int64_t alpha = 6;       // input patch side, m + 3 - 1
  static constexpr int64_t positions = 36;  // alpha^2 transformed positions

  // B^T on 6 values (a column or a row of the patch).
  template <typename T>
  static void input_1d(const T (&d)[6], T (&r)[6]) {
    r[0] = T(4) * d[0] - T(5) * d[2] + d[4];
    r[1] = -T(4) * (d[1] + d[2]) + d[3] + d[4];
    r[2] = T(4) * (d[1] - d[2]) - d[3] + d[4];
    r[3] = T(2) * (d[3] - d[1]) - d[2] + d[4];
    r[4] = T(2) * (d[1] - d[3]) - d[2] + d[4];
    r[5] = T(4) * d[1] - T(5) * d[3] + d[5];
  }

  // A^T on 6 values: 4.
  template <typename T>
  static void output_1d(const T (&v)[6], T (&y)[4]) {
    const T sum12 = v[1] + v[2], diff12 = v[1] - v[2];
    const T sum34 = v[3] + v[4], diff34 = v[3] - v[4];
    y[0] = v[0] + sum12 + sum34;
    y[1] = diff12 + T(2) * diff34;
    y[2] = sum12 + T(4) * sum34;
    y[3] = diff12 + T(8) * diff34 + v[5];
  }

  // G on 3 values: 6.
  template <typename T>
  static void filter_1d(const T (&g)[3], T (&u)[6]) {
    const T sixth = T(1) / T(6), outer = g[0] + g[2];
    u[0] = T(0.25) * g[0];
    u[1] = -sixth * (outer + g[1]);
    u[2] = -sixth * (outer - g[1]);
    u[3] = T(1) / T(24) * g[0] + T(1) / T(12) * g[1] + sixth * g[2];
    u[4] = T(1) / T(24) * g[0] - T(1) / T(12) * g[1] + sixth * g[2];
    u[5] = g[2];
  }

  // G^T on 6 values: 3 (the adjoint of filter_1d).
  template <typename T>
  static void filter_gradient_1d(const T (&u)[6], T (&g)[3]) {
    const T sixth = T(1) / T(6);
    g[0] = T(0.25) * u[0] - sixth * (u[1] + u[2]) + T(1) / T(24) * (u[3] + u[4]);
    g[1] = sixth * (u[2] - u[1]) + T(1) / T(12) * (u[3] - u[4]);
    g[2] = sixth * (u[3] + u[4] - u[1] - u[2]) + u[5];
  }

  // A on 4 values: 6 (the adjoint of output_1d).
  template <typename T>
  static void output_gradient_1d(const T (&y)[4], T (&e)[6]) {
    const T even = y[0] + y[2], odd = y[1] + y[3];
    const T even4 = y[0] + T(4) * y[2], odd8 = T(2) * y[1] + T(8) * y[3];
    e[0] = y[0];
    e[1] = even + odd;
    e[2] = even - odd;
    e[3] = even4 + odd8;
    e[4] = even4 - odd8;
    e[5] = y[3];
  }

  // U = G g G^T for a block of filters, one per vector lane: g (9, g_ld) holds tap p of filter l
  // at g[p * g_ld + l], u (36, u_ld) gets position k of filter l at u[k * u_ld + l].
  template <typename T>
  static void filter_transform_block(const T* g, int64_t g_ld, T* u, int64_t u_ld, int64_t count) {
    separable_block<3, 6>([](const T(&x)[3], T(&y)[6]) { filter_1d(x, y); }, g, g_ld, u, u_ld,
                          count);
  }

  // dg (3, 3) = G^T du G for du[k] (k = 6 i + j, contiguous): one tile.
  template <typename T>
  static void filter_gradient_transform(const T* du, T* dg) {
    separable_block<6, 3>([](const T(&x)[6], T(&y)[3]) { filter_gradient_1d(x, y); }, du, 1, dg, 1,
                          1);
  }

  // V = B^T d B: d (36, ld) the 6x6 input patches, v (36, v_ld).
  template <typename T>
  static void input_transform_block(const T* d, int64_t ld, T* v, int64_t v_ld, int64_t tb) {
    separable_block<6, 6>([](const T(&x)[6], T(&y)[6]) { input_1d(x, y); }, d, ld, v, v_ld, tb);
  }

  // Y = A^T p A + bias: p (36, p_ld) the products, y (16, y_ld) the outputs (row-major tile).
  template <typename T>
  static void output_transform_block(const T* p, int64_t p_ld, T* y, int64_t y_ld, int64_t tb,
                                     T bias) {
    separable_block<6, 4>([](const T(&x)[6], T(&r)[4]) { output_1d(x, r); }, p, p_ld, y, y_ld, tb,
                          bias);
  }

  // E = A g A^T: g (16, ld) the 4x4 output-gradient tiles (row-major), e (36, ld).
  template <typename T>
  static void output_gradient_transform_block(const T* g, T* e, int64_t ld, int64_t tb) {
    separable_block<4, 6>([](const T(&x)[4], T(&r)[6]) { output_gradient_1d(x, r); }, g, ld, e, ld,
                          tb);
  }
};

}  // namespace busi::cpu::winograd
