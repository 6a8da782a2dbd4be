// The ops that change in BF16 mode, each against its FP32 result within the per-element bound of
// tests/bf16_bound.h: matmul and linear (forward, dA/dx and dB/dW), convolution forward, dx and dw
// on the im2col paths (im2col, the fused packing), which round x, w and dy themselves. Winograd
// F(2x2) in BF16 mode rounds its transformed tiles instead and has its own bound
// (tests/test_conv_winograd_bf16.cpp). The backward products are checked the same way, not by
// gradient checks: finite differences mean nothing at bf16's 8 bits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/precision.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/matmul.h"
#include "tests/bf16_bound.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

std::string dims(std::initializer_list<int64_t> d) {
  std::string s;
  for (int64_t v : d) {
    if (!s.empty()) s += "x";
    s += std::to_string(v);
  }
  return s;
}

}  // namespace

TEST_CASE("matmul forward and backward in BF16 mode, against FP32") {
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{20, 33, 17}, {64, 200, 48}}) {
    const auto A = test::random_floats(M * K, 1), B = test::random_floats(K * N, 2);
    const auto dC = test::random_floats(M * N, 3);
    std::vector<float> C[2], dA[2], dB[2];
    for (int mode = 0; mode < 2; ++mode) {
      ScopedPrecision p(mode ? Precision::BF16 : Precision::FP32);
      C[mode].resize(M * N);
      dA[mode].resize(M * K);
      dB[mode].resize(K * N);
      cpu::matmul_forward<float>(A.data(), B.data(), C[mode].data(), M, K, N);
      cpu::matmul_backward<float>(A.data(), B.data(), dC.data(), dA[mode].data(), dB[mode].data(),
                                  M, K, N);
    }
    // S for each product: the same kernels in double on absolute values.
    const auto a = test::abs_doubles(A), b = test::abs_doubles(B), dc = test::abs_doubles(dC);
    std::vector<double> SC(M * N), SdA(M * K), SdB(K * N);
    cpu::matmul_forward<double>(a.data(), b.data(), SC.data(), M, K, N);
    cpu::matmul_backward<double>(a.data(), b.data(), dc.data(), SdA.data(), SdB.data(), M, K, N);
    const std::string d = dims({M, K, N});
    test::check_bf16_bound("matmul " + d, C[1], C[0], SC, K);
    test::check_bf16_bound("matmul dA " + d, dA[1], dA[0], SdA, N);
    test::check_bf16_bound("matmul dB " + d, dB[1], dB[0], SdB, M);
  }
}

TEST_CASE("linear forward and backward in BF16 mode, against FP32") {
  const int64_t N = 32, in = 150, out = 40;
  const auto x = test::random_floats(N * in, 4), W = test::random_floats(out * in, 5);
  const auto bias = test::random_floats(out, 6), dy = test::random_floats(N * out, 7);
  std::vector<float> y[2], dx[2], dW[2], db[2];
  for (int mode = 0; mode < 2; ++mode) {
    ScopedPrecision p(mode ? Precision::BF16 : Precision::FP32);
    y[mode].resize(N * out);
    dx[mode].resize(N * in);
    dW[mode].resize(out * in);
    db[mode].resize(out);
    cpu::linear_forward<float>(x.data(), W.data(), bias.data(), y[mode].data(), N, in, out);
    cpu::linear_backward<float>(x.data(), W.data(), dy.data(), dx[mode].data(), dW[mode].data(),
                                db[mode].data(), N, in, out);
  }
  const auto ax = test::abs_doubles(x), aW = test::abs_doubles(W), ab = test::abs_doubles(bias);
  const auto ady = test::abs_doubles(dy);
  std::vector<double> Sy(N * out), Sdx(N * in), SdW(out * in), Sdb(out);
  cpu::linear_forward<double>(ax.data(), aW.data(), ab.data(), Sy.data(), N, in, out);
  cpu::linear_backward<double>(ax.data(), aW.data(), ady.data(), Sdx.data(), SdW.data(), Sdb.data(),
                               N, in, out);
  test::check_bf16_bound("linear y", y[1], y[0], Sy, in + 1);
  test::check_bf16_bound("linear dx", dx[1], dx[0], Sdx, out);
  test::check_bf16_bound("linear dW", dW[1], dW[0], SdW, N);
  CHECK(db[1] == db[0]);  // a reduction: FP32 in both modes, same order
}

TEST_CASE("conv2d forward, dx and dw in BF16 mode on the im2col paths, against FP32 im2col") {
  struct ConvCase {
    Conv2dShape s;
    const char* note;
  };
  auto shape = [](int64_t N, int64_t C, int64_t H, int64_t O, int64_t k, int64_t stride,
                  int64_t pad) {
    const int64_t Ho = conv_output_size(H, k, stride, pad);
    return Conv2dShape{N, C, H, H, O, k, k, stride, pad, Ho, Ho};
  };
  const ConvCase cases[] = {
      {shape(2, 3, 12, 8, 3, 1, 1), "RGB first layer (im2col in FP32)"},
      {shape(2, 16, 10, 24, 3, 1, 1), "3x3 C,O >= 16 (Winograd where automatic)"},
      {shape(3, 20, 9, 16, 3, 2, 1), "3x3 stride 2"},
      {shape(2, 24, 6, 32, 1, 1, 0), "1x1 pointwise"},
  };
  for (const ConvCase& c : cases) {
    const Conv2dShape& s = c.s;
    const int64_t nx = s.N * s.C * s.H * s.W, nw = s.O * s.C * s.kH * s.kW;
    const int64_t ny = s.N * s.O * s.Ho * s.Wo;
    const auto x = test::random_floats(nx, 8), w = test::random_floats(nw, 9);
    const auto b = test::random_floats(s.O, 10), dy = test::random_floats(ny, 11);
    // FP32 reference: im2col (Winograd's FP32 rounding has its own, larger bound).
    std::vector<float> y32(ny), dx32(nx), dw32(nw);
    cpu::conv2d_forward<float>(s, x.data(), w.data(), b.data(), y32.data(),
                               cpu::ConvAlgorithm::im2col);
    cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx32.data(), dw32.data(), nullptr,
                                cpu::ConvAlgorithm::im2col);
    const auto ax = test::abs_doubles(x), aw = test::abs_doubles(w), ab = test::abs_doubles(b);
    const auto ady = test::abs_doubles(dy);
    std::vector<double> Sy(ny), Sdx(nx), Sdw(nw);
    cpu::conv2d_forward<double>(s, ax.data(), aw.data(), ab.data(), Sy.data(),
                                cpu::ConvAlgorithm::im2col);
    cpu::conv2d_backward<double>(s, ax.data(), aw.data(), ady.data(), Sdx.data(), Sdw.data(),
                                 nullptr, cpu::ConvAlgorithm::im2col);
    const double n_y = s.C * s.kH * s.kW + 1, n_dx = s.O * s.kH * s.kW + s.kH * s.kW;
    const double n_dw = s.N * s.Ho * s.Wo + s.N;
    std::vector<float> y_im2col, dx_im2col, dw_im2col;  // BF16 im2col, for the packed path
    for (cpu::ConvAlgorithm algorithm :
         {cpu::ConvAlgorithm::im2col, cpu::ConvAlgorithm::im2col_packed}) {
      std::vector<float> y16(ny), dx16(nx), dw16(nw);
      {
        ScopedPrecision p(Precision::BF16);
        cpu::conv2d_forward<float>(s, x.data(), w.data(), b.data(), y16.data(), algorithm);
        cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx16.data(), dw16.data(),
                                    nullptr, algorithm);
      }
      std::string what = c.note;
      what += ", ";
      what += cpu::conv_algorithm_name(algorithm);
      test::check_bf16_bound(what + " forward", y16, y32, Sy, n_y);
      test::check_bf16_bound(what + " dx", dx16, dx32, Sdx, n_dx);
      test::check_bf16_bound(what + " dw", dw16, dw32, Sdw, n_dw);
      // The packed path rounds the same operands and sums in the same order as the reference
      // (its pair panels come from the weights once, from the image, or from dy directly, the
      // reference's from the unrolled matrix), so in BF16 mode the two agree bit for bit.
      if (algorithm == cpu::ConvAlgorithm::im2col) {
        y_im2col = y16, dx_im2col = dx16, dw_im2col = dw16;
      } else if (algorithm == cpu::ConvAlgorithm::im2col_packed) {
        INFO(what);
        CHECK(y16 == y_im2col);
        CHECK(dx16 == dx_im2col);
        CHECK(dw16 == dw_im2col);
      }
    }
  }
}

TEST_CASE("the conv bound fails for operands of 5 significant bits") {
  // Positive data: each cut lowers its product, the errors add up past (2u + u^2) S.
  const Conv2dShape s{2, 8, 8, 8, 8, 3, 3, 1, 1, 8, 8};
  const int64_t nx = s.N * s.C * s.H * s.W, nw = s.O * s.C * 9, ny = s.N * s.O * 64;
  const auto x = test::random_floats(nx, 12, 0.25f, 1.0f);
  const auto w = test::random_floats(nw, 13, 0.25f, 1.0f);
  std::vector<float> y32(ny), y5(ny);
  cpu::conv2d_forward<float>(s, x.data(), w.data(), nullptr, y32.data(),
                             cpu::ConvAlgorithm::im2col);
  const auto x5 = test::coarse_operands(x, 5), w5 = test::coarse_operands(w, 5);
  cpu::conv2d_forward<float>(s, x5.data(), w5.data(), nullptr, y5.data(),
                             cpu::ConvAlgorithm::im2col);
  const auto ax = test::abs_doubles(x), aw = test::abs_doubles(w);
  std::vector<double> S(ny);
  cpu::conv2d_forward<double>(s, ax.data(), aw.data(), nullptr, S.data(),
                              cpu::ConvAlgorithm::im2col);
  const test::BoundReport r = test::measure_bound(y5, y32, S, s.C * 9.0);
  MESSAGE("5-bit operands: worst error / bf16 bound " << r.worst_ratio);
  CHECK(r.violations > 0);
}
