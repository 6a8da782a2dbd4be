// The Winograd F(2x2, 3x3) transforms (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016), written out. A 2x2 tile of outputs of a 3x3 correlation is
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
// transposed (conv_winograd.cpp). The filter transforms work on one filter; the data transforms
// on a run of `len` horizontally adjacent tiles at once (loops over the run, which the compiler
// vectorises), writing transformed position k = 4 i + j of tile r to out[k * ld + r].
//
// A tile's 4 input columns 2 r + (0, 1, 2, 3) are read as even[r], odd[r], even[r + 1],
// odd[r + 1] of the row split into its even and odd columns, so shifted arrays replace the
// stride-2 access.
#pragma once

#include <cstdint>

namespace busi::cpu::winograd {

// U = G g G^T. g (3, 3) row-major; u[k * u_step] for k = 4 i + j.
template <typename T>
inline void filter_transform(const T* g, T* u, int64_t u_step) {
  const T half = T(0.5);
  T t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = g[j];
    t[1][j] = half * (g[j] + g[3 + j] + g[6 + j]);
    t[2][j] = half * (g[j] - g[3 + j] + g[6 + j]);
    t[3][j] = g[6 + j];
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    u[(4 * i + 0) * u_step] = t[i][0];
    u[(4 * i + 1) * u_step] = half * (t[i][0] + t[i][1] + t[i][2]);
    u[(4 * i + 2) * u_step] = half * (t[i][0] - t[i][1] + t[i][2]);
    u[(4 * i + 3) * u_step] = t[i][2];
  }
}

// The adjoint of filter_transform: dg (3, 3) = G^T du G for du[k] (k = 4 i + j, contiguous).
// G^T has rows (1 1/2 1/2 0), (0 1/2 -1/2 0), (0 1/2 1/2 1).
template <typename T>
inline void filter_gradient_transform(const T* du, T* dg) {
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

// V = B^T d B for a run of tiles. rows[i] (i < 4) is the image row (from column 0) under the
// tiles' row i, or null where that row is padding; `first` is the image column of the first
// tile's first column (negative: left padding), W the image width; columns outside [0, W) read
// as 0.
// scratch: 18 (len + 1) values.
template <typename T>
void input_transform_run(const T* const rows[4], int64_t first, int64_t W, int64_t len, T* out,
                         int64_t ld, T* scratch) {
  T* even = scratch;                // (len + 1): columns 2 r
  T* odd = scratch + (len + 1);     // (len + 1): columns 2 r + 1
  T* dB = scratch + 2 * (len + 1);  // (4 rows, 4 columns, len): d B, row by row
  const bool inside = first >= 0 && first + 2 * len + 2 <= W;
  for (int i = 0; i < 4; ++i) {
    const T* row = rows[i];
    if (row && inside) {
      for (int64_t r = 0; r <= len; ++r) {
        even[r] = row[first + 2 * r];
        odd[r] = row[first + 2 * r + 1];
      }
    } else {
      for (int64_t r = 0; r <= len; ++r) {
        const int64_t v = first + 2 * r;
        even[r] = row && v >= 0 && v < W ? row[v] : T(0);
        odd[r] = row && v + 1 >= 0 && v + 1 < W ? row[v + 1] : T(0);
      }
    }
    // d B: columns (d0 - d2, d1 + d2, d2 - d1, d1 - d3), B^T's rows applied to the columns.
    T* c0 = dB + (4 * i + 0) * len;
    T* c1 = dB + (4 * i + 1) * len;
    T* c2 = dB + (4 * i + 2) * len;
    T* c3 = dB + (4 * i + 3) * len;
    for (int64_t r = 0; r < len; ++r) {
      c0[r] = even[r] - even[r + 1];
      c1[r] = odd[r] + even[r + 1];
      c2[r] = even[r + 1] - odd[r];
      c3[r] = odd[r] - odd[r + 1];
    }
  }
  for (int j = 0; j < 4; ++j) {  // B^T (d B): the same combination of the rows
    const T* d0 = dB + (0 + j) * len;
    const T* d1 = dB + (4 + j) * len;
    const T* d2 = dB + (8 + j) * len;
    const T* d3 = dB + (12 + j) * len;
    T* v0 = out + (0 + j) * ld;
    T* v1 = out + (4 + j) * ld;
    T* v2 = out + (8 + j) * ld;
    T* v3 = out + (12 + j) * ld;
    for (int64_t r = 0; r < len; ++r) {
      v0[r] = d0[r] - d2[r];
      v1[r] = d1[r] + d2[r];
      v2[r] = d2[r] - d1[r];
      v3[r] = d1[r] - d3[r];
    }
  }
}

// Y = A^T m A for a run of tiles: m[k * ld + r] as written by the products. Writes the 2x2
// outputs of tile r, plus `bias`, to y0[2 r], y0[2 r + 1] and y1[2 r], y1[2 r + 1] (y1 null: past
// the last output row); `columns` is how many output columns the run covers (2 len, or one
// fewer at an odd right edge). scratch: 4 len values.
template <typename T>
void output_transform_run(const T* m, int64_t ld, int64_t len, T bias, T* y0, T* y1,
                          int64_t columns, T* scratch) {
  T* y00 = scratch;
  T* y01 = scratch + len;
  T* y10 = scratch + 2 * len;
  T* y11 = scratch + 3 * len;
  for (int64_t r = 0; r < len; ++r) {
    T a0[4], a1[4];  // A^T m: rows (m0 + m1 + m2, m1 - m2 - m3)
    for (int j = 0; j < 4; ++j) {
      const T m0 = m[j * ld + r], m1 = m[(4 + j) * ld + r];
      const T m2 = m[(8 + j) * ld + r], m3 = m[(12 + j) * ld + r];
      a0[j] = m0 + m1 + m2;
      a1[j] = m1 - m2 - m3;
    }
    y00[r] = a0[0] + a0[1] + a0[2] + bias;  // (A^T m) A: the same on the columns
    y01[r] = a0[1] - a0[2] - a0[3] + bias;
    y10[r] = a1[0] + a1[1] + a1[2] + bias;
    y11[r] = a1[1] - a1[2] - a1[3] + bias;
  }
  for (int64_t v = 0; v < columns; ++v) y0[v] = v % 2 ? y01[v / 2] : y00[v / 2];
  if (y1)
    for (int64_t v = 0; v < columns; ++v) y1[v] = v % 2 ? y11[v / 2] : y10[v / 2];
}

// E = A g A^T for a run of output-gradient tiles g (2x2): g0 and g1 are the tiles' two rows from
// their first column on (g1 null: past the last row), `columns` as in output_transform_run (a
// missing right column reads 0). A = (A^T)^T has rows (1 0), (1 1), (1 -1), (0 -1).
// scratch: 4 len values.
template <typename T>
void output_gradient_transform_run(const T* g0, const T* g1, int64_t columns, int64_t len, T* out,
                                   int64_t ld, T* scratch) {
  T* g00 = scratch;
  T* g01 = scratch + len;
  T* g10 = scratch + 2 * len;
  T* g11 = scratch + 3 * len;
  for (int64_t r = 0; r < len; ++r) {
    g00[r] = g0[2 * r];
    g01[r] = 2 * r + 1 < columns ? g0[2 * r + 1] : T(0);
    g10[r] = g1 ? g1[2 * r] : T(0);
    g11[r] = g1 && 2 * r + 1 < columns ? g1[2 * r + 1] : T(0);
  }
  for (int64_t r = 0; r < len; ++r) {
    // A g: rows (g0, g0 + g1, g0 - g1, -g1) of the two columns.
    const T t[4][2] = {{g00[r], g01[r]},
                       {g00[r] + g10[r], g01[r] + g11[r]},
                       {g00[r] - g10[r], g01[r] - g11[r]},
                       {-g10[r], -g11[r]}};
    for (int i = 0; i < 4; ++i) {  // (A g) A^T: the same on the columns
      out[(4 * i + 0) * ld + r] = t[i][0];
      out[(4 * i + 1) * ld + r] = t[i][0] + t[i][1];
      out[(4 * i + 2) * ld + r] = t[i][0] - t[i][1];
      out[(4 * i + 3) * ld + r] = -t[i][1];
    }
  }
}

}  // namespace busi::cpu::winograd
