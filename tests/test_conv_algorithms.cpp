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

using namespace busi;
using test::max_abs_difference;

namespace {

Conv2dShape conv3x3(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t pad = 1) {
  return Conv2dShape{N, C, H, W, O, 3, 3, 1, pad, H + 2 * pad - 2, W + 2 * pad - 2};
}

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

// F(4x4, 3x3)'s bounds, element by element from the absolute values of its matrices (written
// here from Lavin and Gray's paper, independently of the kernel's hand-written transforms):
// first-order rounding analysis gives
//   forward  |y - y~| <= (C + 32) u  |A^T| ( sum_c (|G| |g_c| |G^T|) (.) (|B^T| |d_c| |B|) ) |A|
//   dw       |dg - dg~| <= (T + 40) u  |G^T| ( sum_t (|A| |dY_t| |A^T|) (.) (|B^T| |d_t| |B|) ) |G|
// with 32 and 40 covering the transforms' roundings (8 to 12 each: two passes of sums of up to 5
// terms, the constants 1/6, 1/12 and 1/24 inexact) and the bias or the threads' partial sums.
constexpr double kAbsBT[6][6] = {{4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
                                 {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
constexpr double kAbsG[6][3] = {{1.0 / 4, 0, 0},
                                {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
constexpr double kAbsAT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, 1, 2, 2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, 1, 8, 8, 1}};

// out (a, c) = L (a, b) X (b, b) R^T with R (c, b): all row-major.
std::vector<double> sandwich(const double* L, int a, int b, const std::vector<double>& X,
                             const double* R, int c) {
  std::vector<double> out(a * c, 0.0);
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < c; ++j)
      for (int k = 0; k < b; ++k)
        for (int l = 0; l < b; ++l) out[i * c + j] += L[i * b + k] * X[k * b + l] * R[j * b + l];
  return out;
}
std::vector<double> transposed(const double* m, int rows, int cols) {
  std::vector<double> t(rows * cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
  return t;
}

// |v|'s size x size window of plane (n, c) at rows r0 + [0, size), columns c0 + [0, size).
std::vector<double> abs_window(const std::vector<double>& v, int64_t H, int64_t W, int64_t plane,
                               int64_t r0, int64_t c0, int size) {
  std::vector<double> out(size * size, 0.0);
  for (int i = 0; i < size; ++i)
    for (int j = 0; j < size; ++j)
      if (r0 + i >= 0 && r0 + i < H && c0 + j >= 0 && c0 + j < W)
        out[i * size + j] = std::abs(v[(plane * H + r0 + i) * W + c0 + j]);
  return out;
}

// |B^T| |d| |B| of every (n, c, tile): (N, C, tiles, 36).
std::vector<double> abs_input_transforms(const Conv2dShape& s, const std::vector<double>& x,
                                         int64_t tH, int64_t tW) {
  std::vector<double> out;
  out.reserve(s.N * s.C * tH * tW * 36);
  for (int64_t nc = 0; nc < s.N * s.C; ++nc)
    for (int64_t t = 0; t < tH * tW; ++t) {
      const auto d = abs_window(x, s.H, s.W, nc, 4 * (t / tW) - s.pad, 4 * (t % tW) - s.pad, 6);
      const auto v = sandwich(&kAbsBT[0][0], 6, 6, d, &kAbsBT[0][0], 6);
      out.insert(out.end(), v.begin(), v.end());
    }
  return out;
}

std::vector<double> winograd4x4_forward_bound(const Conv2dShape& s, const std::vector<double>& x,
                                              const std::vector<double>& w) {
  const int64_t tH = (s.Ho + 3) / 4, tW = (s.Wo + 3) / 4;
  const auto V = abs_input_transforms(s, x, tH, tW);
  std::vector<double> U;  // (O, C, 36)
  for (int64_t oc = 0; oc < s.O * s.C; ++oc) {
    const std::vector<double> g(absolute({w.begin() + oc * 9, w.begin() + oc * 9 + 9}));
    const auto u = sandwich(&kAbsG[0][0], 6, 3, g, &kAbsG[0][0], 6);
    U.insert(U.end(), u.begin(), u.end());
  }
  const double u = std::ldexp(1.0, -24), factor = static_cast<double>(s.C + 32) * u;
  std::vector<double> bound(s.N * s.O * s.Ho * s.Wo);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t t = 0; t < tH * tW; ++t) {
        std::vector<double> X(36, 0.0);
        for (int64_t c = 0; c < s.C; ++c)
          for (int k = 0; k < 36; ++k)
            X[k] += U[(o * s.C + c) * 36 + k] * V[((n * s.C + c) * tH * tW + t) * 36 + k];
        const auto Y = sandwich(&kAbsAT[0][0], 4, 6, X, &kAbsAT[0][0], 4);
        for (int64_t i = 0; i < 4 && 4 * (t / tW) + i < s.Ho; ++i)
          for (int64_t j = 0; j < 4 && 4 * (t % tW) + j < s.Wo; ++j)
            bound[((n * s.O + o) * s.Ho + 4 * (t / tW) + i) * s.Wo + 4 * (t % tW) + j] =
                factor * Y[i * 4 + j];
      }
  return bound;
}

std::vector<double> winograd4x4_filter_bound(const Conv2dShape& s, const std::vector<double>& x,
                                             const std::vector<double>& dy) {
  const int64_t tH = (s.Ho + 3) / 4, tW = (s.Wo + 3) / 4, T = s.N * tH * tW;
  const auto V = abs_input_transforms(s, x, tH, tW);
  const auto A = transposed(&kAbsAT[0][0], 4, 6), GT = transposed(&kAbsG[0][0], 6, 3);
  std::vector<double> E;  // (N, O, tiles, 36)
  for (int64_t no = 0; no < s.N * s.O; ++no)
    for (int64_t t = 0; t < tH * tW; ++t) {
      const auto g = abs_window(dy, s.Ho, s.Wo, no, 4 * (t / tW), 4 * (t % tW), 4);
      const auto e = sandwich(A.data(), 6, 4, g, A.data(), 6);
      E.insert(E.end(), e.begin(), e.end());
    }
  const double u = std::ldexp(1.0, -24), factor = static_cast<double>(T + 40) * u;
  std::vector<double> bound(s.O * s.C * 9);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c) {
      std::vector<double> X(36, 0.0);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t t = 0; t < tH * tW; ++t)
          for (int k = 0; k < 36; ++k)
            X[k] += E[((n * s.O + o) * tH * tW + t) * 36 + k] *
                    V[((n * s.C + c) * tH * tW + t) * 36 + k];
      const auto dg = sandwich(GT.data(), 3, 6, X, GT.data(), 3);
      for (int k = 0; k < 9; ++k) bound[(o * s.C + c) * 9 + k] = factor * dg[k];
    }
  return bound;
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
    auto scaled = [](std::vector<double> v, double f) {
      for (double& e : v) e *= f;
      return v;
    };
    const auto y_direct = scaled(y_abs, (9.0 * s.C + 2) * u);
    const auto dx_direct = scaled(dx_abs, (9.0 * s.O + 2) * u);
    const auto dw_direct = scaled(dw_abs, (static_cast<double>(s.N * s.Ho * s.Wo) + 2) * u);
    // Winograd's: the forward's; dx is that forward on dy with the flipped filters; dw its own.
    const Conv2dShape flipped{s.N, s.O, s.Ho, s.Wo, s.C, 3, 3, 1, 2 - s.pad, s.H, s.W};
    std::vector<double> w_flipped(w.size());
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t k = 0; k < 9; ++k)
          w_flipped[(c * s.O + o) * 9 + 8 - k] = w[(o * s.C + c) * 9 + k];
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
