// The convolution's definition as direct loops, in double: the ground truth of the conv tests
// (tests/test_ops_conv.cpp, tests/test_conv_algorithms.cpp), and how far a result is from it.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/shapes.h"

namespace busi::test {

// The largest |a[i] - b[i]|; a and b must have the same size.
inline double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// The definition, written as directly as possible:
// y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, c, i*s - pad + p, j*s - pad + q]
inline std::vector<double> naive_conv2d(const Conv2dShape& s, const std::vector<double>& x,
                                        const std::vector<double>& w,
                                        const std::vector<double>& b) {
  std::vector<double> y(s.N * s.O * s.Ho * s.Wo);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < s.Ho; ++i)
        for (int64_t j = 0; j < s.Wo; ++j) {
          double total = b.empty() ? 0.0 : b[o];
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t p = 0; p < s.kH; ++p)
              for (int64_t q = 0; q < s.kW; ++q) {
                const int64_t h = i * s.stride - s.pad + p, v = j * s.stride - s.pad + q;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                total += w[((o * s.C + c) * s.kH + p) * s.kW + q] *
                         x[((n * s.C + c) * s.H + h) * s.W + v];
              }
          y[((n * s.O + o) * s.Ho + i) * s.Wo + j] = total;
        }
  return y;
}

// Its gradients as direct loops: each (output, tap) pair adds w dy to dx and x dy to dw.
inline void naive_conv2d_backward(const Conv2dShape& s, const std::vector<double>& x,
                                  const std::vector<double>& w, const std::vector<double>& dy,
                                  std::vector<double>& dx, std::vector<double>& dw,
                                  std::vector<double>& db) {
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  db.assign(s.O, 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < s.Ho; ++i)
        for (int64_t j = 0; j < s.Wo; ++j) {
          const double g = dy[((n * s.O + o) * s.Ho + i) * s.Wo + j];
          db[o] += g;
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t p = 0; p < s.kH; ++p)
              for (int64_t q = 0; q < s.kW; ++q) {
                const int64_t h = i * s.stride - s.pad + p, v = j * s.stride - s.pad + q;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                const int64_t xi = ((n * s.C + c) * s.H + h) * s.W + v;
                const int64_t wi = ((o * s.C + c) * s.kH + p) * s.kW + q;
                dx[xi] += w[wi] * g;
                dw[wi] += x[xi] * g;
              }
        }
}

}  // namespace busi::test
