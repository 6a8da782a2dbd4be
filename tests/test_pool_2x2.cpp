// The 2x2 stride-2 max-pool fast path (kernels/cpu/pool.cpp) against the definition written as a
// direct loop: odd sizes (a row and a column no window reads), ties, NaN, infinities, batch 1,
// rows wide enough for the AVX-512 gradient's 16-window steps, on every CPU kernel variant.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "kernels/common/shapes.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/pool.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

// y = the first maximum in row-major order of each 2x2 window (strict >: the first of ties, and
// a NaN in first place stays); dx = dy at that element, 0 elsewhere.
void reference(const Pool2dShape& s, const std::vector<float>& x, const std::vector<float>& dy,
               std::vector<float>& y, std::vector<float>& dx) {
  y.assign(s.N * s.C * s.Ho * s.Wo, 0.0f);
  dx.assign(x.size(), 0.0f);
  for (int64_t p = 0; p < s.N * s.C; ++p)
    for (int64_t i = 0; i < s.Ho; ++i)
      for (int64_t j = 0; j < s.Wo; ++j) {
        int64_t best = -1;
        for (int64_t h = 2 * i; h < 2 * i + 2; ++h)
          for (int64_t v = 2 * j; v < 2 * j + 2; ++v) {
            const int64_t at = (p * s.H + h) * s.W + v;
            if (best < 0 || x[at] > x[best]) best = at;
          }
        y[(p * s.Ho + i) * s.Wo + j] = x[best];
        dx[best] += dy[(p * s.Ho + i) * s.Wo + j];
      }
}

bool same(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

TEST_CASE("2x2 max pooling matches the definition, forward and backward") {
  // Narrow planes, and rows of 16 windows and more with a remainder (W 70: 35 windows, 2 vector
  // steps of 16 on AVX-512 and 3 left), on every kernel variant this CPU runs.
  const cpu::CpuKernels before = cpu::active_cpu_kernels();
  for (cpu::CpuKernels variant :
       {cpu::CpuKernels::portable, cpu::CpuKernels::avx2, cpu::CpuKernels::avx512}) {
    if (!cpu::set_cpu_kernels(variant)) continue;
    for (auto [N, C, H, W] :
         {std::tuple{1, 1, 2, 2}, std::tuple{2, 3, 7, 5}, std::tuple{1, 2, 8, 9},
          std::tuple{3, 1, 6, 6}, std::tuple{2, 2, 4, 70}, std::tuple{1, 3, 5, 33},
          std::tuple{1, 1, 2, 64}}) {
      const Pool2dShape s{N, C, H, W, 2, 2, 0, H / 2, W / 2};
      std::vector<float> x = test::random_floats(N * C * H * W, 7 + W, -1, 1);
      for (size_t i = 0; i < x.size(); i += 5) x[i] = std::round(x[i]);  // ties
      x[0] = std::nanf("");                                              // a NaN first
      x[3] = std::numeric_limits<float>::infinity();
      x[x.size() / 2] = -std::numeric_limits<float>::infinity();
      if (W > 40 && H > 2) x[2 * W + 37] = std::nanf("");  // a NaN inside a vector step
      const std::vector<float> dy = test::random_floats(N * C * s.Ho * s.Wo, 8);
      std::vector<float> y(dy.size(), -7.0f), dx(x.size(), -7.0f), y_ref, dx_ref;
      cpu::max_pool2d_forward<float>(s, x.data(), y.data());
      cpu::max_pool2d_backward<float>(s, x.data(), dy.data(), dx.data());
      reference(s, x, dy, y_ref, dx_ref);
      INFO(cpu::cpu_kernels_name(variant)
           << " x (" << N << ", " << C << ", " << H << ", " << W << ")");
      for (size_t i = 0; i < y.size(); ++i) CHECK(same(y[i], y_ref[i]));
      for (size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == dx_ref[i]);
    }
  }
  cpu::set_cpu_kernels(before);
}
