// The fast convolution paths against the reference: im2col with fused packing and Winograd
// F(2x2, 3x3) and F(4x4, 3x3), each with every GEMM micro-kernel variant this CPU can run, on the layer shapes of
// SimpleCNN and VGG16 and on awkward ones (odd sizes, 1 channel, batch 1). In double against the
// direct loops (tests/conv_reference.h) and with finite differences; in float against the double
// reference within the rounding bounds argued in kernels/cpu/conv_winograd.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/conv_reference.h"
#include "tests/cpu_variants.h"
#include "tests/gradcheck.h"
#include "tests/winograd_bounds.h"

using namespace busi;
using test::max_abs_difference;

namespace {

using test::conv3x3;

std::string describe(const Conv2dShape& s) {
  return "x (" + std::to_string(s.N) + ", " + std::to_string(s.C) + ", " + std::to_string(s.H) +
         ", " + std::to_string(s.W) + ") w (" + std::to_string(s.O) + ", " + std::to_string(s.C) +
         ", " + std::to_string(s.kH) + ", " + std::to_string(s.kW) + ") pad " +
         std::to_string(s.pad);
}

// Awkward shapes: odd sizes (partial 2x2 tiles), 1 channel in or out, batch 1, padding 0 and 2,
// images smaller than a tile, channel counts that fill no register tile evenly.
const Conv2dShape kAwkward[] = {conv3x3(1, 1, 7, 5, 1),     conv3x3(3, 1, 9, 9, 5),
                                conv3x3(2, 5, 6, 7, 1),     conv3x3(1, 3, 3, 3, 2),
                                conv3x3(2, 17, 11, 13, 19), conv3x3(1, 20, 8, 9, 9, 0),
                                conv3x3(2, 4, 5, 6, 3, 2),  conv3x3(1, 33, 1, 1, 50)};

// Every layer shape of both models (channels and sizes as at 48 px, half the CPU benchmark's
// 96), batch 2: SimpleCNN's four convolutions, then VGG16's thirteen (repeats once each).
const Conv2dShape kModelLayers[] = {
    conv3x3(2, 1, 48, 48, 32),    conv3x3(2, 32, 24, 24, 64),   conv3x3(2, 64, 12, 12, 128),
    conv3x3(2, 128, 6, 6, 256),   conv3x3(2, 3, 48, 48, 64),    conv3x3(2, 64, 48, 48, 64),
    conv3x3(2, 64, 24, 24, 128),  conv3x3(2, 128, 24, 24, 128), conv3x3(2, 128, 12, 12, 256),
    conv3x3(2, 256, 12, 12, 256), conv3x3(2, 256, 6, 6, 512),   conv3x3(2, 512, 6, 6, 512),
    conv3x3(2, 512, 3, 3, 512)};

const cpu::ConvAlgorithm kFast[] = {cpu::ConvAlgorithm::im2col_packed, cpu::ConvAlgorithm::winograd,
                                    cpu::ConvAlgorithm::winograd4x4};

}  // namespace

TEST_CASE("every conv algorithm matches the direct loops, forward and backward (double)") {
  for (const Conv2dShape& s : kAwkward)
    for (cpu::ConvAlgorithm a : {cpu::ConvAlgorithm::im2col, cpu::ConvAlgorithm::im2col_packed,
                                 cpu::ConvAlgorithm::winograd, cpu::ConvAlgorithm::winograd4x4}) {
      const auto x = test::random_doubles(s.N * s.C * s.H * s.W, 1);
      const auto w = test::random_doubles(s.O * s.C * 9, 2);
      const auto b = test::random_doubles(s.O, 3);
      const auto dy = test::random_doubles(s.N * s.O * s.Ho * s.Wo, 4);
      std::vector<double> y(dy.size(), -99.0), dx(x.size(), -99.0), dw(w.size(), -99.0);
      std::vector<double> db(s.O, -99.0), dx_ref, dw_ref, db_ref;
      cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data(), a);
      cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                   db.data(), a);
      test::naive_conv2d_backward(s, x, w, dy, dx_ref, dw_ref, db_ref);
      INFO(describe(s) << ", " << cpu::conv_algorithm_name(a));
      CHECK(max_abs_difference(y, test::naive_conv2d(s, x, w, b)) < 1e-12);
      CHECK(max_abs_difference(dx, dx_ref) < 1e-12);
      CHECK(max_abs_difference(dw, dw_ref) < 1e-12);
      CHECK(max_abs_difference(db, db_ref) < 1e-12);
    }
}

TEST_CASE("Winograd gradients against finite differences (double)") {
  for (const auto a : {cpu::ConvAlgorithm::winograd, cpu::ConvAlgorithm::winograd4x4})
    for (const Conv2dShape& s :
         {conv3x3(2, 3, 5, 6, 4), conv3x3(1, 2, 4, 3, 3, 0), conv3x3(1, 2, 9, 7, 3)}) {
      auto x = test::random_doubles(s.N * s.C * s.H * s.W, 11);
      auto w = test::random_doubles(s.O * s.C * 9, 12);
      auto b = test::random_doubles(s.O, 13);
      const auto dy = test::random_doubles(s.N * s.O * s.Ho * s.Wo, 14);  // L = sum dy * y
      std::vector<double> y(dy.size()), dx(x.size()), dw(w.size()), db(s.O);
      auto loss = [&] {
        cpu::conv2d_forward<double>(s, x.data(), w.data(), b.data(), y.data(), a);
        return test::weighted_sum(y, dy);
      };
      cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                   db.data(), a);
      INFO(describe(s) << ", " << cpu::conv_algorithm_name(a));
      test::expect_gradient_matches("winograd dx", x, loss, dx);
      test::expect_gradient_matches("winograd dw", w, loss, dw);
      test::expect_gradient_matches("winograd db", b, loss, db);
    }
}

TEST_CASE("a forced Winograd on a shape it cannot compute is refused") {
  const Conv2dShape s{1, 2, 6, 6, 2, 3, 3, 2, 1, 3, 3};  // stride 2
  std::vector<float> x(72), w(36), y(18);
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward<float>(s, x.data(), w.data(), nullptr, y.data(),
                                                  cpu::ConvAlgorithm::winograd),
                       doctest::Contains("conv2d: algorithm winograd needs a 3x3 kernel"), Error);
}

namespace {

std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::abs(v[i]);
  return a;
}

// For each plane (n, c) of a (N, C, H, W) tensor and each 2x2 output tile (ti, tj) of a
// (tH, tW) grid: the sum of |v| over the size x size window at rows 2 ti - offset + [0, size),
// columns 2 tj - offset + [0, size) (what is outside counts 0). Result (N, C, tH, tW).
std::vector<double> window_sums(const std::vector<double>& v, int64_t N, int64_t C, int64_t H,
                                int64_t W, int64_t tH, int64_t tW, int64_t offset, int64_t size) {
  std::vector<double> out(N * C * tH * tW, 0.0);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t ti = 0; ti < tH; ++ti)
      for (int64_t tj = 0; tj < tW; ++tj) {
        double total = 0.0;
        for (int64_t i = 0; i < size; ++i)
          for (int64_t j = 0; j < size; ++j) {
            const int64_t h = 2 * ti - offset + i, c = 2 * tj - offset + j;
            if (h >= 0 && h < H && c >= 0 && c < W) total += std::abs(v[(nc * H + h) * W + c]);
          }
        out[(nc * tH + ti) * tW + tj] = total;
      }
  return out;
}

// The Winograd bound of the forward (conv_winograd.cpp) for output (n, o, i, j):
// 9 (C + 12) u sum_c |g_oc|_1 |d_c|_1, d_c the 4x4 patch of the output's tile.
std::vector<double> winograd_forward_bound(const Conv2dShape& s, const std::vector<double>& x,
                                           const std::vector<double>& w) {
  const int64_t tH = (s.Ho + 1) / 2, tW = (s.Wo + 1) / 2;
  const std::vector<double> patches = window_sums(x, s.N, s.C, s.H, s.W, tH, tW, s.pad, 4);
  const double u = std::ldexp(1.0, -24), factor = 9.0 * static_cast<double>(s.C + 12) * u;
  std::vector<double> bound(s.N * s.O * s.Ho * s.Wo);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t t = 0; t < tH * tW; ++t) {
        double total = 0.0;
        for (int64_t c = 0; c < s.C; ++c) {
          double g1 = 0.0;
          for (int64_t k = 0; k < 9; ++k) g1 += std::abs(w[(o * s.C + c) * 9 + k]);
          total += g1 * patches[(n * s.C + c) * tH * tW + t];
        }
        const int64_t ti = t / tW, tj = t % tW;
        for (int64_t i = 2 * ti; i < std::min(2 * ti + 2, s.Ho); ++i)
          for (int64_t j = 2 * tj; j < std::min(2 * tj + 2, s.Wo); ++j)
            bound[((n * s.O + o) * s.Ho + i) * s.Wo + j] = factor * total;
      }
  return bound;
}

// The weight gradient's bound: dU sums T tiles (T + 12 roundings with the transforms, 2 more for
// the threads' partial sums), and |G^T| (.) |G| sums to at most 4 per tap:
// 4 (T + 14) u sum_t |dY_t|_1 |d_t|_1 for every tap of (o, c).
std::vector<double> winograd_filter_bound(const Conv2dShape& s, const std::vector<double>& x,
                                          const std::vector<double>& dy) {
  const int64_t tH = (s.Ho + 1) / 2, tW = (s.Wo + 1) / 2, T = s.N * tH * tW;
  const std::vector<double> patches = window_sums(x, s.N, s.C, s.H, s.W, tH, tW, s.pad, 4);
  const std::vector<double> tiles = window_sums(dy, s.N, s.O, s.Ho, s.Wo, tH, tW, 0, 2);
  const double u = std::ldexp(1.0, -24), factor = 4.0 * static_cast<double>(T + 14) * u;
  std::vector<double> bound(s.O * s.C * 9);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c) {
      double total = 0.0;
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t t = 0; t < tH * tW; ++t)
          total += tiles[(n * s.O + o) * tH * tW + t] * patches[(n * s.C + c) * tH * tW + t];
      for (int64_t k = 0; k < 9; ++k) bound[(o * s.C + c) * 9 + k] = factor * total;
    }
  return bound;
}

// F(4x4, 3x3)'s bounds (tests/winograd_bounds.h): (C + 32) u times the forward's sum of absolute
// values, (T + 40) u times the weight gradient's, 32 and 40 covering the transforms' roundings (8
// to 12 each: two passes of sums of up to 5 terms, the constants 1/6, 1/12 and 1/24 inexact) and
// the bias or the threads' partial sums.
std::vector<double> winograd4x4_forward_bound(const Conv2dShape& s, const std::vector<double>& x,
                                              const std::vector<double>& w) {
  const double u = std::ldexp(1.0, -24);
  return test::scaled(test::winograd_forward_abs_sum(s, x, w, test::winograd4x4_abs()),
                      static_cast<double>(s.C + 32) * u);
}

std::vector<double> winograd4x4_filter_bound(const Conv2dShape& s, const std::vector<double>& x,
                                             const std::vector<double>& dy) {
  const int64_t T = s.N * ((s.Ho + 3) / 4) * ((s.Wo + 3) / 4);
  const double u = std::ldexp(1.0, -24);
  return test::scaled(test::winograd_filter_abs_sum(s, x, dy, test::winograd4x4_abs()),
                      static_cast<double>(T + 40) * u);
}

// Whether every |got - want| is within its bound; reports the worst ratio.
void check_within(const std::string& what, const std::vector<float>& got,
                  const std::vector<double>& want, const std::vector<double>& bound) {
  REQUIRE(got.size() == want.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double ratio = std::abs(got[i] - want[i]) / (bound[i] + 1e-300);
    if (ratio > worst) worst = ratio, at = i;
  }
  INFO(what << ": worst error " << std::abs(got[at] - want[at]) << " at " << at << ", bound "
            << bound[at] << " (ratio " << worst << ")");
  CHECK(worst <= 1.0);
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("float conv paths on the models' layer shapes stay within their rounding bounds") {
  const cpu::CpuKernels original = cpu::active_cpu_kernels();
  const double u = std::ldexp(1.0, -24);
  std::vector<Conv2dShape> shapes(std::begin(kModelLayers), std::end(kModelLayers));
  shapes.insert(shapes.end(), std::begin(kAwkward), std::end(kAwkward));
  for (const Conv2dShape& s : shapes) {
    // Inputs rounded to float first, so float and double runs see the same numbers.
    const auto x = to_double(test::random_floats(s.N * s.C * s.H * s.W, 21));
    const auto w = to_double(test::random_floats(s.O * s.C * 9, 22, -0.1f, 0.1f));
    const auto dy = to_double(test::random_floats(s.N * s.O * s.Ho * s.Wo, 23));
    std::vector<double> y(dy.size()), dx(x.size()), dw(w.size());
    const auto ref = cpu::ConvAlgorithm::im2col;
    cpu::conv2d_forward<double>(s, x.data(), w.data(), nullptr, y.data(), ref);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr,
                                 ref);
    // The direct sums' bounds: (terms + 2) u sum |w| |x| (2 more for the partial sums).
    std::vector<double> y_abs(y.size()), dx_abs(x.size()), dw_abs(w.size());
    const auto ax = absolute(x), aw = absolute(w), ady = absolute(dy);
    cpu::conv2d_forward<double>(s, ax.data(), aw.data(), nullptr, y_abs.data(), ref);
    cpu::conv2d_backward<double>(s, ax.data(), aw.data(), ady.data(), dx_abs.data(), dw_abs.data(),
                                 nullptr, ref);
    using test::scaled;
    const auto y_direct = scaled(y_abs, (9.0 * s.C + 2) * u);
    const auto dx_direct = scaled(dx_abs, (9.0 * s.O + 2) * u);
    const auto dw_direct = scaled(dw_abs, (static_cast<double>(s.N * s.Ho * s.Wo) + 2) * u);
    // Winograd's: the forward's; dx is that forward on dy with the flipped filters; dw its own.
    const Conv2dShape flipped = test::flipped_for_dx(s);
    const std::vector<double> w_flipped = test::flipped_filters(s, w);
    const auto y_wino = winograd_forward_bound(s, x, w);
    const auto dx_wino = winograd_forward_bound(flipped, dy, w_flipped);
    const auto dw_wino = winograd_filter_bound(s, x, dy);
    const auto y_wino4 = winograd4x4_forward_bound(s, x, w);
    const auto dx_wino4 = winograd4x4_forward_bound(flipped, dy, w_flipped);
    const auto dw_wino4 = winograd4x4_filter_bound(s, x, dy);

    const auto xf = to_float(x), wf = to_float(w), dyf = to_float(dy);
    for (cpu::CpuKernels v : test::runnable_variants()) {
      REQUIRE(cpu::set_cpu_kernels(v));
      for (cpu::ConvAlgorithm a : kFast) {
        if (!cpu::conv_algorithm_applies(a, s)) continue;
        std::vector<float> yf(y.size()), dxf(x.size()), dwf(w.size());
        cpu::conv2d_forward<float>(s, xf.data(), wf.data(), nullptr, yf.data(), a);
        cpu::conv2d_backward<float>(s, xf.data(), wf.data(), dyf.data(), dxf.data(), dwf.data(),
                                    nullptr, a);
        const bool wino = a == cpu::ConvAlgorithm::winograd;
        const bool wino4 = a == cpu::ConvAlgorithm::winograd4x4;
        const std::string what =
            describe(s) + ", " + cpu::conv_algorithm_name(a) + ", " + cpu::cpu_kernels_name(v);
        check_within(what + ", y", yf, y, wino4 ? y_wino4 : wino ? y_wino : y_direct);
        check_within(what + ", dx", dxf, dx, wino4 ? dx_wino4 : wino ? dx_wino : dx_direct);
        check_within(what + ", dw", dwf, dw, wino4 ? dw_wino4 : wino ? dw_wino : dw_direct);
      }
    }
  }
  cpu::set_cpu_kernels(original);
}
