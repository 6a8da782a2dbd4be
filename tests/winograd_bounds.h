// The sums of absolute values that bound a Winograd convolution's rounding, element by element,
// for either tile (F(2x2, 3x3), F(4x4, 3x3)), computed from the absolute values of its matrices
// (written here from Lavin and Gray's paper, independently of the kernel's hand-written
// transforms). First-order rounding analysis gives, with u the unit roundoff of each step,
//   forward  |y - y~|   <= k u  |A^T| ( sum_c (|G| |g_c| |G^T|) (.) (|B^T| |d_c| |B|) ) |A|
//   dw       |dg - dg~| <= k u  |G^T| ( sum_t (|A| |dY_t| |A^T|) (.) (|B^T| |d_t| |B|) ) |G|
// where k counts the roundings on each path; the functions below return the sums, per output
// element (forward) or filter tap (dw), and each test multiplies them by its own k u: FP32 in
// tests/test_conv_algorithms.cpp, bf16 products in tests/test_conv_winograd_bf16.cpp.
// dx is the forward on dy with the flipped filters (flipped_for_dx).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/shapes.h"

namespace busi::test {

// A 3x3 stride-1 layer with padding `pad` (the shapes Winograd computes).
inline Conv2dShape conv3x3(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t pad = 1) {
  return Conv2dShape{N, C, H, W, O, 3, 3, 1, pad, H + 2 * pad - 2, W + 2 * pad - 2};
}

// |B^T| (alpha, alpha), |G| (alpha, 3), |A^T| (m, alpha), row-major.
struct WinogradAbs {
  int m, alpha;
  std::vector<double> BT, G, AT;
};

// One matrix row per line.
// clang-format off
inline WinogradAbs winograd2x2_abs() {
  return {2, 4,
          {1, 0, 1, 0,
           0, 1, 1, 0,
           0, 1, 1, 0,
           0, 1, 0, 1},
          {1,   0,   0,
           0.5, 0.5, 0.5,
           0.5, 0.5, 0.5,
           0,   0,   1},
          {1, 1, 1, 0,
           0, 1, 1, 1}};
}

inline WinogradAbs winograd4x4_abs() {
  return {4, 6,
          {4, 0, 5, 0, 1, 0,
           0, 4, 4, 1, 1, 0,
           0, 4, 4, 1, 1, 0,
           0, 2, 1, 2, 1, 0,
           0, 2, 1, 2, 1, 0,
           0, 4, 0, 5, 0, 1},
          {1.0 / 4,  0,        0,
           1.0 / 6,  1.0 / 6,  1.0 / 6,
           1.0 / 6,  1.0 / 6,  1.0 / 6,
           1.0 / 24, 1.0 / 12, 1.0 / 6,
           1.0 / 24, 1.0 / 12, 1.0 / 6,
           0,        0,        1},
          {1, 1, 1, 1, 1, 0,
           0, 1, 1, 2, 2, 0,
           0, 1, 1, 4, 4, 0,
           0, 1, 1, 8, 8, 1}};
}
// clang-format on

// out (a, c) = L (a, b) X (b, b) R^T with R (c, b): all row-major.
inline std::vector<double> sandwich(const double* L, int a, int b, const std::vector<double>& X,
                                    const double* R, int c) {
  std::vector<double> out(a * c, 0.0);
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < c; ++j)
      for (int k = 0; k < b; ++k)
        for (int l = 0; l < b; ++l) out[i * c + j] += L[i * b + k] * X[k * b + l] * R[j * b + l];
  return out;
}

inline std::vector<double> transposed(const std::vector<double>& m, int rows, int cols) {
  std::vector<double> t(rows * cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
  return t;
}

// |v|'s size x size window of plane p of a (planes, H, W) tensor at rows r0 + [0, size), columns
// c0 + [0, size) (0 outside).
inline std::vector<double> abs_window(const std::vector<double>& v, int64_t H, int64_t W, int64_t p,
                                      int64_t r0, int64_t c0, int size) {
  std::vector<double> out(size * size, 0.0);
  for (int i = 0; i < size; ++i)
    for (int j = 0; j < size; ++j)
      if (r0 + i >= 0 && r0 + i < H && c0 + j >= 0 && c0 + j < W)
        out[i * size + j] = std::abs(v[(p * H + r0 + i) * W + c0 + j]);
  return out;
}

// |B^T| |d| |B| of every (n, c, tile) of x: (N, C, tiles, alpha^2).
inline std::vector<double> abs_input_transforms(const Conv2dShape& s, const std::vector<double>& x,
                                                const WinogradAbs& f, int64_t tH, int64_t tW) {
  std::vector<double> out;
  out.reserve(s.N * s.C * tH * tW * f.alpha * f.alpha);
  for (int64_t nc = 0; nc < s.N * s.C; ++nc)
    for (int64_t t = 0; t < tH * tW; ++t) {
      const auto d =
          abs_window(x, s.H, s.W, nc, f.m * (t / tW) - s.pad, f.m * (t % tW) - s.pad, f.alpha);
      const auto v = sandwich(f.BT.data(), f.alpha, f.alpha, d, f.BT.data(), f.alpha);
      out.insert(out.end(), v.begin(), v.end());
    }
  return out;
}

// The forward's sum, per output element (N, O, Ho, Wo).
inline std::vector<double> winograd_forward_abs_sum(const Conv2dShape& s,
                                                    const std::vector<double>& x,
                                                    const std::vector<double>& w,
                                                    const WinogradAbs& f) {
  const int a2 = f.alpha * f.alpha;
  const int64_t tH = (s.Ho + f.m - 1) / f.m, tW = (s.Wo + f.m - 1) / f.m;
  const auto V = abs_input_transforms(s, x, f, tH, tW);
  std::vector<double> U;  // (O, C, alpha^2)
  for (int64_t oc = 0; oc < s.O * s.C; ++oc) {
    std::vector<double> g(9);
    for (int k = 0; k < 9; ++k) g[k] = std::abs(w[oc * 9 + k]);
    const auto u = sandwich(f.G.data(), f.alpha, 3, g, f.G.data(), f.alpha);
    U.insert(U.end(), u.begin(), u.end());
  }
  std::vector<double> sum(s.N * s.O * s.Ho * s.Wo);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t t = 0; t < tH * tW; ++t) {
        std::vector<double> X(a2, 0.0);
        for (int64_t c = 0; c < s.C; ++c)
          for (int k = 0; k < a2; ++k)
            X[k] += U[(o * s.C + c) * a2 + k] * V[((n * s.C + c) * tH * tW + t) * a2 + k];
        const auto Y = sandwich(f.AT.data(), f.m, f.alpha, X, f.AT.data(), f.m);
        for (int64_t i = 0; i < f.m && f.m * (t / tW) + i < s.Ho; ++i)
          for (int64_t j = 0; j < f.m && f.m * (t % tW) + j < s.Wo; ++j)
            sum[((n * s.O + o) * s.Ho + f.m * (t / tW) + i) * s.Wo + f.m * (t % tW) + j] =
                Y[i * f.m + j];
      }
  return sum;
}

// The weight gradient's sum, per filter tap (O, C, 3, 3).
inline std::vector<double> winograd_filter_abs_sum(const Conv2dShape& s,
                                                   const std::vector<double>& x,
                                                   const std::vector<double>& dy,
                                                   const WinogradAbs& f) {
  const int a2 = f.alpha * f.alpha;
  const int64_t tH = (s.Ho + f.m - 1) / f.m, tW = (s.Wo + f.m - 1) / f.m;
  const auto V = abs_input_transforms(s, x, f, tH, tW);
  const auto A = transposed(f.AT, f.m, f.alpha), GT = transposed(f.G, f.alpha, 3);
  std::vector<double> E;  // (N, O, tiles, alpha^2)
  for (int64_t no = 0; no < s.N * s.O; ++no)
    for (int64_t t = 0; t < tH * tW; ++t) {
      const auto g = abs_window(dy, s.Ho, s.Wo, no, f.m * (t / tW), f.m * (t % tW), f.m);
      const auto e = sandwich(A.data(), f.alpha, f.m, g, A.data(), f.alpha);
      E.insert(E.end(), e.begin(), e.end());
    }
  std::vector<double> sum(s.O * s.C * 9);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c) {
      std::vector<double> X(a2, 0.0);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t t = 0; t < tH * tW; ++t)
          for (int k = 0; k < a2; ++k)
            X[k] += E[((n * s.O + o) * tH * tW + t) * a2 + k] *
                    V[((n * s.C + c) * tH * tW + t) * a2 + k];
      const auto dg = sandwich(GT.data(), 3, f.alpha, X, GT.data(), 3);
      for (int k = 0; k < 9; ++k) sum[(o * s.C + c) * 9 + k] = dg[k];
    }
  return sum;
}

// dx as a forward: the shape of the correlation of dy with w'[c, o, p, q] = w[o, c, 2-p, 2-q]
// (padding 2 - pad), and those flipped filters.
inline Conv2dShape flipped_for_dx(const Conv2dShape& s) {
  return {s.N, s.O, s.Ho, s.Wo, s.C, 3, 3, 1, 2 - s.pad, s.H, s.W};
}
inline std::vector<double> flipped_filters(const Conv2dShape& s, const std::vector<double>& w) {
  std::vector<double> flipped(w.size());
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t k = 0; k < 9; ++k) flipped[(c * s.O + o) * 9 + 8 - k] = w[(o * s.C + c) * 9 + k];
  return flipped;
}

inline std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& e : v) e *= factor;
  return v;
}

}  // namespace busi::test
