// Winograd in BF16 mode (docs/bf16.md): F(2x2, 3x3) rounds its transformed tiles to bf16 and
// multiplies them with FP32 sums; F(4x4, 3x3) stays FP32; and the BF16 table
// (kernels/cpu/conv.cpp) picks between them. The bound, first order, with u_b = 2^-8 for the two
// rounded operands of each product and u = 2^-24 for the FP32 steps (tests/winograd_bounds.h
// gives the sums S of absolute values, element by element):
//   forward, dx  |y~ - y|   <= (2 u_b + u_b^2 + (C + 12) u) S_forward
//   dw           |dg~ - dg| <= (2 u_b + u_b^2 + (T + 14) u) S_filter     (T tiles)
// against a double reference. The bound is a worst case (it grows with C where the errors, of
// random sign, grow with sqrt(C): the worst element uses 0.7 to 17 % of it), so two more checks
// keep the test honest: the errors must be bf16's (some element beyond the FP32 part of the bound
// alone), and their RMS must stay within 3x that of bf16 im2col on the same data (the GEMM that
// rounds x and w themselves; measured 1.3 to 1.9x here; F(4x4) rounded the same way measured 3.1
// to 11.6x on these shapes, every one of them caught).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/precision.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm_bf16.h"
#include "tests/bf16_bound.h"
#include "tests/gradcheck.h"
#include "tests/winograd_bounds.h"

using namespace busi;

namespace {

using test::conv3x3;

struct Errors {
  double worst_ratio = 0.0;  // max |got - want| / bound
  int64_t outside = 0;       // elements beyond the bound
  int64_t beyond_fp32 = 0;   // elements beyond the FP32 part alone
};

double rms_error(const std::vector<float>& got, const std::vector<double>& want) {
  double sum = 0.0;
  for (size_t i = 0; i < got.size(); ++i) sum += (got[i] - want[i]) * (got[i] - want[i]);
  return std::sqrt(sum / static_cast<double>(got.size()));
}

Errors measure(const std::vector<float>& got, const std::vector<double>& want,
               const std::vector<double>& S, double fp32_factor) {
  REQUIRE(got.size() == want.size());
  Errors e;
  const double factor = 2 * test::kBf16U + test::kBf16U * test::kBf16U + fp32_factor;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    if (S[i] > 0) e.worst_ratio = std::max(e.worst_ratio, err / (factor * S[i]));
    e.outside += !(err <= factor * S[i]);
    e.beyond_fp32 += err > fp32_factor * S[i];
  }
  return e;
}

// got: bf16 Winograd; direct: bf16 im2col; want: the double reference.
void check(const std::string& what, const std::vector<float>& got, const std::vector<float>& direct,
           const std::vector<double>& want, const std::vector<double>& S, double fp32_factor) {
  const Errors e = measure(got, want, S, fp32_factor);
  const double rms_ratio = rms_error(got, want) / rms_error(direct, want);
  MESSAGE(what << ": worst error / bound " << e.worst_ratio << ", " << e.beyond_fp32 << " of "
               << got.size() << " beyond the FP32 part, RMS error " << rms_ratio
               << "x bf16 im2col's");
  CHECK_MESSAGE(e.outside == 0, what << ": " << e.outside << " elements outside the bound");
  CHECK_MESSAGE(e.beyond_fp32 > 0, what << ": no element shows bf16 rounding");
  CHECK_MESSAGE(rms_ratio <= 3.0, what << ": far less accurate than bf16 im2col");
}

// y, dx, dw of conv s by `algorithm` in BF16 mode.
std::vector<std::vector<float>> bf16_conv(const Conv2dShape& s, const std::vector<float>& x,
                                          const std::vector<float>& w, const std::vector<float>& dy,
                                          cpu::ConvAlgorithm algorithm) {
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
  ScopedPrecision mode(Precision::BF16);
  cpu::conv2d_forward<float>(s, x.data(), w.data(), nullptr, y.data(), algorithm);
  cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr,
                              algorithm);
  return {y, dx, dw};
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("BF16-mode Winograd F(2x2) stays within its bound, with both bf16 kernels") {
  // The shapes the BF16 table runs F(2x2) on (SimpleCNN's and VGG16's small layers, at 48 px
  // batch 2), and awkward ones: partial tiles, odd channel counts, padding 0 and 2.
  const Conv2dShape shapes[] = {conv3x3(2, 32, 24, 24, 64), conv3x3(2, 128, 6, 6, 256),
                                conv3x3(2, 512, 3, 3, 512), conv3x3(2, 17, 11, 13, 19),
                                conv3x3(1, 20, 8, 9, 9, 0), conv3x3(2, 4, 5, 6, 3, 2)};
  const double u = test::kFp32U;
  const cpu::Bf16Kernel original = cpu::active_bf16_kernel();
  for (const Conv2dShape& s : shapes) {
    // ReLU-like inputs (as the models' activations), signed filters and gradients.
    const auto x = to_double(test::random_floats(s.N * s.C * s.H * s.W, 31, 0.0f, 1.0f));
    const auto w = to_double(test::random_floats(s.O * s.C * 9, 32, -0.1f, 0.1f));
    const auto dy = to_double(test::random_floats(s.N * s.O * s.Ho * s.Wo, 33));
    std::vector<double> y(dy.size()), dx(x.size()), dw(w.size());
    cpu::conv2d_forward<double>(s, x.data(), w.data(), nullptr, y.data(),
                                cpu::ConvAlgorithm::im2col);
    cpu::conv2d_backward<double>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr,
                                 cpu::ConvAlgorithm::im2col);
    const test::WinogradAbs f = test::winograd2x2_abs();
    const Conv2dShape flipped = test::flipped_for_dx(s);
    const auto Sy = test::winograd_forward_abs_sum(s, x, w, f);
    const auto Sdx = test::winograd_forward_abs_sum(flipped, dy, test::flipped_filters(s, w), f);
    const auto Sdw = test::winograd_filter_abs_sum(s, x, dy, f);
    const double T = static_cast<double>(s.N * ((s.Ho + 1) / 2) * ((s.Wo + 1) / 2));

    const std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end()),
        dyf(dy.begin(), dy.end());
    const auto direct = bf16_conv(s, xf, wf, dyf, cpu::ConvAlgorithm::im2col);
    std::vector<std::vector<float>> first;  // the first kernel's y, dx, dw
    for (cpu::Bf16Kernel kernel : {cpu::Bf16Kernel::portable, cpu::Bf16Kernel::avx512bf16}) {
      if (!cpu::set_bf16_kernel(kernel)) continue;  // a CPU without AVX512-BF16
      const auto got = bf16_conv(s, xf, wf, dyf, cpu::ConvAlgorithm::winograd);
      const std::vector<float>&yf = got[0], &dxf = got[1], &dwf = got[2];
      const std::string what = "C " + std::to_string(s.C) + " -> O " + std::to_string(s.O) +
                               " at " + std::to_string(s.H) + " x " + std::to_string(s.W) + ", " +
                               cpu::bf16_kernel_name(kernel);
      check(what + ", y", yf, direct[0], y, Sy, (s.C + 12) * u);
      check(what + ", dx", dxf, direct[1], dx, Sdx, (s.O + 12) * u);
      check(what + ", dw", dwf, direct[2], dw, Sdw, (T + 14) * u);
      // The AVX512-BF16 kernel computes the portable one's numbers (gemm_bf16.h).
      if (first.empty()) {
        first = got;
      } else {
        CHECK(yf == first[0]);
        CHECK(dxf == first[1]);
        CHECK(dwf == first[2]);
      }
    }
  }
  cpu::set_bf16_kernel(original);
}

TEST_CASE("F(4x4) runs in FP32 in BF16 mode: the same numbers bit for bit") {
  const Conv2dShape s = conv3x3(2, 24, 16, 16, 32);
  const auto x = test::random_floats(s.N * s.C * s.H * s.W, 41, 0.0f, 1.0f);
  const auto w = test::random_floats(s.O * s.C * 9, 42, -0.1f, 0.1f);
  const auto dy = test::random_floats(s.N * s.O * s.Ho * s.Wo, 43);
  std::vector<float> y[2], dx[2], dw[2];
  for (int mode = 0; mode < 2; ++mode) {
    ScopedPrecision p(mode ? Precision::BF16 : Precision::FP32);
    y[mode].resize(dy.size()), dx[mode].resize(x.size()), dw[mode].resize(w.size());
    cpu::conv2d_forward<float>(s, x.data(), w.data(), nullptr, y[mode].data(),
                               cpu::ConvAlgorithm::winograd4x4);
    cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx[mode].data(), dw[mode].data(),
                                nullptr, cpu::ConvAlgorithm::winograd4x4);
  }
  CHECK(y[1] == y[0]);
  CHECK(dx[1] == dx[0]);
  CHECK(dw[1] == dw[0]);
}

TEST_CASE("the BF16 table: F(4x4) in FP32 on wide large layers, bf16 products on the rest") {
  auto choice = [](const Conv2dShape& s, Precision p) {
    ScopedPrecision mode(p);
    return cpu::choose_conv_algorithms(s);
  };
  using A = cpu::ConvAlgorithm;
  // VGG16 at 96 px: block 1's second layer (64 -> 64 at 96) and block 3 (256 at 24) keep F(4x4).
  for (const Conv2dShape& s : {conv3x3(32, 64, 96, 96, 64), conv3x3(32, 256, 24, 24, 256)}) {
    const cpu::ConvChoice c = choice(s, Precision::BF16);
    CHECK(c.forward == A::winograd4x4);
    CHECK(c.backward_data == A::winograd4x4);
    CHECK(c.backward_filter == A::winograd4x4);
  }
  // Block 4 (512 at 12): F(2x2) in bf16 for all three; the FP32 table takes F(4x4) forward.
  const Conv2dShape block4 = conv3x3(32, 512, 12, 12, 512);
  const cpu::ConvChoice b4 = choice(block4, Precision::BF16);
  CHECK(b4.forward == A::winograd);
  CHECK(b4.backward_data == A::winograd);
  CHECK(b4.backward_filter == A::winograd);
  CHECK(choice(block4, Precision::FP32).forward == A::winograd4x4);
  // SimpleCNN's 64 -> 128 at 24: the forward F(2x2), the gradients the bf16 packing.
  const cpu::ConvChoice simple = choice(conv3x3(32, 64, 24, 24, 128), Precision::BF16);
  CHECK(simple.forward == A::winograd);
  CHECK(simple.backward_data == A::im2col_packed);
  CHECK(simple.backward_filter == A::im2col_packed);
}
