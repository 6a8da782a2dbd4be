// The Winograd F(2x2, 3x3) transforms, struct F2x2 (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016), written out. A 2x2 tile of outputs of a 3x3 correlation is
//   Y (2x2) = A^T [ (G g G^T) (.) (B^T d B) ] A
// with d the 4x4 input tile, g the 3x3 filter, (.) the element-wise product and
//   B^T = | 1  0 -1  0 |     G = | 1    0    0   |     A^T = | 1  1  1  0 |
//         | 0  1  1  0 |         | 1/2  1/2  1/2 |           | 0  1 -1 -1 |
//         | 0 -1  1  0 |         | 1/2 -1/2  1/2 |
//         | 0  1  0 -1 |         | 0    0    1   |
// 16 multiplications per tile and channel pair instead of 36. All coefficients are 0, +-1 and
// +-1/2, so the transforms are additions (and exact halvings).
//
// For training, the gradients follow from Y being linear in U = G g G^T and in V = B^T d B:
//   dL/dU = (A dY A^T) (.) V   summed over tiles,   dL/dg = G^T (dL/dU) G
// and the input gradient is the same forward algorithm run on dY with the filters flipped and
// transposed (conv_winograd.cpp).
#pragma once

#include <cstdint>

namespace busi::cpu::winograd {

// A 2-d transform X -> L X L^T applied to a block of tiles, one tile per vector lane: `one_d`
// maps In values to Out (L times a vector), and is applied to each column of X, then to each row
// of the result. src (In * In, src_ld) holds position (i, j) of tile t at src[(In i + j) src_ld +
// t], dst (Out * Out, dst_ld) gets (i, j) at dst[(Out i + j) dst_ld + t], plus `add`. The small
// loops are unrolled by pragma: GCC does not vectorise a loop that still holds two loops, and its
// own unrolling stops short of 6 x 6. The arrays never overlap (the compiler cannot see it).
template <int In, int Out, typename T, typename OneD>
inline void separable_block(const OneD& one_d, const T* src, int64_t src_ld, T* dst, int64_t dst_ld,
                            int64_t count, T add = T(0)) {
#pragma omp simd
  for (int64_t t = 0; t < count; ++t) {
    T columns[In][Out];  // columns[j] = L times column j of X
#pragma GCC unroll 6
    for (int j = 0; j < In; ++j) {
      T column[In];
#pragma GCC unroll 6
      for (int i = 0; i < In; ++i) column[i] = src[(In * i + j) * src_ld + t];
      one_d(column, columns[j]);
    }
#pragma GCC unroll 6
    for (int i = 0; i < Out; ++i) {  // row i of L X, times L^T
      T row[In], out[Out];
#pragma GCC unroll 6
      for (int j = 0; j < In; ++j) row[j] = columns[j][i];
      one_d(row, out);
#pragma GCC unroll 6
      for (int j = 0; j < Out; ++j) dst[(Out * i + j) * dst_ld + t] = out[j] + add;
    }
  }
}

struct F2x2 {
  static constexpr int64_t m = 2;           // output tile side
  static constexpr int64_t alpha = 4;       // input patch side, m + 3 - 1
  static constexpr int64_t positions = 16;  // alpha^2 transformed positions

  // G on 3 values: 4.
  template <typename T>
  static void filter_1d(const T (&g)[3], T (&u)[4]) {
    const T half = T(0.5);
    u[0] = g[0];
    u[1] = half * (g[0] + g[1] + g[2]);
    u[2] = half * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }

  // U = G g G^T for a block of filters, one per vector lane: g (9, g_ld) holds tap p of filter l
  // at g[p * g_ld + l], u (16, u_ld) gets position k of filter l at u[k * u_ld + l].
  template <typename T>
  static void filter_transform_block(const T* g, int64_t g_ld, T* u, int64_t u_ld, int64_t count) {
    separable_block<3, 4>([](const T(&x)[3], T(&y)[4]) { filter_1d(x, y); }, g, g_ld, u, u_ld,
                          count);
  }

  // The adjoint of the filter transform: dg (3, 3) = G^T du G for du[k] (k = 4 i + j, contiguous).
  // G^T has rows (1 1/2 1/2 0), (0 1/2 -1/2 0), (0 1/2 1/2 1).
  template <typename T>
  static void filter_gradient_transform(const T* du, T* dg) {
    const T half = T(0.5);
    T t[3][4];  // G^T du
    for (int j = 0; j < 4; ++j) {
      const T u0 = du[j], u1 = du[4 + j], u2 = du[8 + j], u3 = du[12 + j];
      t[0][j] = u0 + half * (u1 + u2);
      t[1][j] = half * (u1 - u2);
      t[2][j] = half * (u1 + u2) + u3;
    }
    for (int i = 0; i < 3; ++i) {  // (G^T du) G
      dg[3 * i + 0] = t[i][0] + half * (t[i][1] + t[i][2]);
      dg[3 * i + 1] = half * (t[i][1] - t[i][2]);
      dg[3 * i + 2] = half * (t[i][1] + t[i][2]) + t[i][3];
    }
  }

  // The data transforms work on a block of tb tiles at once, each array holding one position of
  // every tile (d[k * ld + t]: position k = 4 i + j of tile t), so that each loop runs over the
  // tiles with whole vectors whatever the image size; the callers gather the tiles' patches into
  // such arrays and scatter the results. The loops carry `omp simd`: the arrays never overlap,
  // which the compiler cannot see through the pointers.

  // V = B^T d B: d (16, ld) the 4x4 input patches, v (16, v_ld).
  template <typename T>
  static void input_transform_block(const T* d, int64_t ld, T* v, int64_t v_ld, int64_t tb) {
#pragma omp simd
    for (int64_t t = 0; t < tb; ++t) {
      T x[16], r[16];
      for (int k = 0; k < 16; ++k) x[k] = d[k * ld + t];
      for (int j = 0; j < 4; ++j) {  // B^T d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        r[0 + j] = x[0 + j] - x[8 + j];
        r[4 + j] = x[4 + j] + x[8 + j];
        r[8 + j] = x[8 + j] - x[4 + j];
        r[12 + j] = x[4 + j] - x[12 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (B^T d) B: the same on the columns
        v[(4 * i + 0) * v_ld + t] = r[4 * i + 0] - r[4 * i + 2];
        v[(4 * i + 1) * v_ld + t] = r[4 * i + 1] + r[4 * i + 2];
        v[(4 * i + 2) * v_ld + t] = r[4 * i + 2] - r[4 * i + 1];
        v[(4 * i + 3) * v_ld + t] = r[4 * i + 1] - r[4 * i + 3];
      }
    }
  }

  // Y = A^T p A + bias: p (16, p_ld) the products, y (4, y_ld) the outputs (y00, y01, y10, y11).
  template <typename T>
  static void output_transform_block(const T* p, int64_t p_ld, T* y, int64_t y_ld, int64_t tb,
                                     T bias) {
#pragma omp simd
    for (int64_t t = 0; t < tb; ++t) {
      T a[2][4];  // A^T p: rows (m0 + m1 + m2, m1 - m2 - m3), m_i = row i of p
      for (int j = 0; j < 4; ++j) {
        const T m0 = p[j * p_ld + t], m1 = p[(4 + j) * p_ld + t];
        const T m2 = p[(8 + j) * p_ld + t], m3 = p[(12 + j) * p_ld + t];
        a[0][j] = m0 + m1 + m2;
        a[1][j] = m1 - m2 - m3;
      }
      for (int i = 0; i < 2; ++i) {  // (A^T p) A: the same on the columns
        y[(2 * i + 0) * y_ld + t] = a[i][0] + a[i][1] + a[i][2] + bias;
        y[(2 * i + 1) * y_ld + t] = a[i][1] - a[i][2] - a[i][3] + bias;
      }
    }
  }

  // E = A g A^T: g (4, ld) the output-gradient tiles (g00, g01, g10, g11), e (16, ld).
  // A = (A^T)^T has rows (1 0), (1 1), (1 -1), (0 -1).
  template <typename T>
  static void output_gradient_transform_block(const T* g, T* e, int64_t ld, int64_t tb) {
#pragma omp simd
    for (int64_t t = 0; t < tb; ++t) {
      const T g00 = g[t], g01 = g[ld + t], g10 = g[2 * ld + t], g11 = g[3 * ld + t];
      // A g: rows (g0, g0 + g1, g0 - g1, -g1) of the two columns.
      const T r[4][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};
      for (int i = 0; i < 4; ++i) {  // (A g) A^T: the same on the columns
        e[(4 * i + 0) * ld + t] = r[i][0];
        e[(4 * i + 1) * ld + t] = r[i][0] + r[i][1];
        e[(4 * i + 2) * ld + t] = r[i][0] - r[i][1];
        e[(4 * i + 3) * ld + t] = -r[i][1];
      }
    }
  }
};

}  // namespace busi::cpu::winograd
