// The per-element error bound of a bf16 mixed-precision product against its FP32 reference, and
// the checks that make it an honest test (shared by tests/test_*bf16*.cpp; docs/bf16.md).
//
// bf16 keeps 8 significant bits: unit roundoff u = 2^-8. Each rounded operand is a(1 + d),
// |d| <= u, so a product of two is ab(1 + e) with |e| <= 2u + u^2, and then (FP32 sums, n terms,
// any order, gamma_n = n u32 / (1 - n u32), u32 = 2^-24):
//   |C_bf16 - C_exact| <= (2u + u^2) S + gamma_n (1 + u)^2 S,   |C_fp32 - C_exact| <= gamma_n S
// with S = sum_k |a_k| |b_k| per element. Hence the bound checked here:
//   |C_bf16 - C_fp32| <= (2u + u^2) S + 2 gamma_n (1 + u)^2 S.
// Two checks keep it from being vacuous: some element must differ by more than the FP32 part
// alone (2 gamma_n (1 + u)^2 S: without any bf16 rounding that check fails), and operands cut to
// 5 significant bits (a coarser format) must break the bound (coarse_operands).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace busi::test {

constexpr double kBf16U = 1.0 / 256.0;      // 2^-8
constexpr double kFp32U = 1.0 / (1 << 24);  // 2^-24
inline double gamma_fp32(double n) { return n * kFp32U / (1.0 - n * kFp32U); }

// The FP32 part of the bound alone (summation order of two FP32 computations), per unit S.
inline double fp32_part(double n) { return 2.0 * gamma_fp32(n) * (1.0 + kBf16U) * (1.0 + kBf16U); }
inline double bf16_bound_factor(double n) { return 2.0 * kBf16U + kBf16U * kBf16U + fp32_part(n); }

struct BoundReport {
  double worst_ratio = 0.0;  // max_i |got - want| / bound_i
  double max_error = 0.0;    // max_i |got - want|
  int64_t beyond_fp32 = 0;   // elements whose difference exceeds the FP32 part alone
  int64_t violations = 0;    // elements outside the bound
};

// got: bf16 result; want: FP32 result; S: sum |a||b| per element (double); n: terms per sum.
inline BoundReport measure_bound(const std::vector<float>& got, const std::vector<float>& want,
                                 const std::vector<double>& S, double n) {
  REQUIRE(got.size() == want.size());
  REQUIRE(got.size() == S.size());
  BoundReport r;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(want[i]));
    const double bound = bf16_bound_factor(n) * S[i];
    r.max_error = std::max(r.max_error, err);
    if (bound > 0) r.worst_ratio = std::max(r.worst_ratio, err / bound);
    if (err > bound || std::isnan(err)) ++r.violations;
    if (err > fp32_part(n) * S[i]) ++r.beyond_fp32;
  }
  return r;
}

// CHECKs a bf16 result against its FP32 reference: inside the bound everywhere, and visibly
// rounded (beyond the FP32 part somewhere).
inline BoundReport check_bf16_bound(const std::string& what, const std::vector<float>& got,
                                    const std::vector<float>& want, const std::vector<double>& S,
                                    double n) {
  const BoundReport r = measure_bound(got, want, S, n);
  MESSAGE(what << ": max |bf16 - fp32| " << r.max_error << ", worst error / bound " << r.worst_ratio
               << ", " << r.beyond_fp32 << " of " << got.size()
               << " elements beyond the FP32 part");
  CHECK_MESSAGE(r.violations == 0, what << ": " << r.violations << " elements outside the bound");
  CHECK_MESSAGE(r.beyond_fp32 > 0, what << ": no element shows bf16 rounding");
  return r;
}

// v with each value cut (toward zero) to `bits` significant bits: a coarser format than bf16's 8,
// to show that the bound catches it (on positive data the cuts all lower the products, so their
// errors add up instead of cancelling).
inline std::vector<float> coarse_operands(std::vector<float> v, int bits) {
  for (float& x : v) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u &= ~((uint32_t{1} << (24 - bits)) - 1u);
    std::memcpy(&x, &u, sizeof u);
  }
  return v;
}

inline std::vector<double> abs_doubles(const std::vector<float>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::abs(double(v[i]));
  return out;
}

}  // namespace busi::test
