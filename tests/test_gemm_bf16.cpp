// The CPU bf16 GEMM (kernels/cpu/gemm_bf16.h): the AVX512-BF16 kernel bit for bit against the
// portable pair kernel, both against the naive loop of the same rounded operands, and against the
// FP32 GEMM within the per-element bound of tests/bf16_bound.h; an operand packed once
// (PackedOperandA) against the same product packed per call.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/precision.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_blocked.h"
#include "tests/bf16_bound.h"
#include "tests/gradcheck.h"

using namespace busi;

namespace {

struct Case {
  bool ta, tb;
  int64_t M, N, K;
};

// Products of many shapes: edges of the 8 x 48 and 6 x 16 tiles, odd K (a half-filled last
// pair), K past the 128 and 256 slices, both transposes.
const Case kCases[] = {{false, false, 1, 1, 1},     {false, false, 7, 5, 3},
                       {false, true, 9, 50, 17},    {true, false, 33, 47, 129},
                       {true, true, 16, 96, 64},    {false, false, 70, 100, 300},
                       {false, true, 130, 61, 257}, {true, false, 8, 48, 512}};

struct Operands {
  std::vector<float> A, B;
  int64_t lda, ldb;
};
Operands operands(const Case& c, uint64_t seed, float lo = -1.0f) {
  Operands o;
  o.lda = c.ta ? c.M : c.K;
  o.ldb = c.tb ? c.K : c.N;
  o.A = test::random_floats(c.M * c.K, seed, lo, 1.0f);
  o.B = test::random_floats(c.K * c.N, seed + 1, lo, 1.0f);
  return o;
}

// S (M, N) = |op(A)| |op(B)| in double.
std::vector<double> abs_product(const Case& c, const Operands& o) {
  std::vector<double> S(c.M * c.N);
  const std::vector<double> A = test::abs_doubles(o.A), B = test::abs_doubles(o.B);
  cpu::gemm_naive<double>(c.ta, c.tb, c.M, c.N, c.K, 1.0, A.data(), o.lda, B.data(), o.ldb, 0.0,
                          S.data(), c.N);
  return S;
}

}  // namespace

TEST_CASE("the AVX512-BF16 kernel equals the portable pair kernel bit for bit") {
  if (!cpu::bf16_kernel_supported(cpu::Bf16Kernel::avx512bf16) ||
      !cpu::cpu_kernels_supported(cpu::CpuKernels::avx512)) {
    MESSAGE("not run: this CPU has no AVX512-BF16");
    return;
  }
  const cpu::CpuKernels float_before = cpu::active_cpu_kernels();
  const cpu::Bf16Kernel before = cpu::active_bf16_kernel();
  REQUIRE(cpu::set_cpu_kernels(cpu::CpuKernels::avx512));  // the 8 x 48 tile for both
  for (const Case& c : kCases) {
    const Operands o = operands(c, 100 + c.K);
    for (float beta : {0.0f, 1.0f}) {
      std::vector<float> fast(c.M * c.N, 0.5f), portable(c.M * c.N, 0.5f);
      REQUIRE(cpu::set_bf16_kernel(cpu::Bf16Kernel::avx512bf16));
      cpu::gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb, beta,
                     fast.data(), c.N);
      REQUIRE(cpu::set_bf16_kernel(cpu::Bf16Kernel::portable));
      cpu::gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb, beta,
                     portable.data(), c.N);
      INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " beta " << beta);
      CHECK(fast == portable);
    }
  }
  cpu::set_bf16_kernel(before);
  cpu::set_cpu_kernels(float_before);
}

TEST_CASE("the blocked bf16 GEMM matches the naive loop of the same rounded operands") {
  // Same rounded operands, FP32 sums in another order: |diff| <= 2 gamma_K (1 + u)^2 S.
  for (cpu::CpuKernels variant :
       {cpu::CpuKernels::portable, cpu::CpuKernels::avx2, cpu::CpuKernels::avx512}) {
    if (!cpu::cpu_kernels_supported(variant)) continue;
    const cpu::CpuKernels before = cpu::active_cpu_kernels();
    REQUIRE(cpu::set_cpu_kernels(variant));
    for (const Case& c : kCases) {
      const Operands o = operands(c, 200 + c.M);
      std::vector<float> blocked(c.M * c.N), naive(c.M * c.N);
      cpu::gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f,
                     blocked.data(), c.N);
      cpu::gemm_bf16_naive(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb,
                           0.0f, naive.data(), c.N);
      const std::vector<double> S = abs_product(c, o);
      int64_t outside = 0;
      for (size_t i = 0; i < S.size(); ++i)
        outside += std::abs(double(blocked[i]) - naive[i]) > test::fp32_part(c.K) * S[i];
      INFO(cpu::cpu_kernels_name(variant) << " M=" << c.M << " N=" << c.N << " K=" << c.K);
      CHECK(outside == 0);
    }
    cpu::set_cpu_kernels(before);
  }
}

TEST_CASE("gemm<float> in BF16 mode: within the bf16 bound of FP32, and the bound can fail") {
  for (const Case& c : kCases) {
    if (c.M * c.N < 64) continue;  // too few elements to expect a visible rounding
    const Operands o = operands(c, 300 + c.N);
    std::vector<float> fp32(c.M * c.N), bf16(c.M * c.N);
    cpu::gemm<float>(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f,
                     fp32.data(), c.N);
    {
      ScopedPrecision mode(Precision::BF16);
      cpu::gemm<float>(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f,
                       bf16.data(), c.N);
    }
    const std::string what =
        "gemm " + std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K);
    test::check_bf16_bound(what, bf16, fp32, abs_product(c, o), double(c.K));
  }
  // Positive operands cut to 5 significant bits: every product errs low by up to 2 * 2^-5, and
  // the errors add up, so the bf16 bound (2u = 2^-7 relative to S) must fail.
  const Case c{false, false, 40, 40, 64};
  const Operands o = operands(c, 400, 0.25f);
  const std::vector<float> A5 = test::coarse_operands(o.A, 5), B5 = test::coarse_operands(o.B, 5);
  std::vector<float> fp32(c.M * c.N), coarse(c.M * c.N);
  cpu::gemm<float>(false, false, c.M, c.N, c.K, 1.0f, o.A.data(), c.K, o.B.data(), c.N, 0.0f,
                   fp32.data(), c.N);
  cpu::gemm<float>(false, false, c.M, c.N, c.K, 1.0f, A5.data(), c.K, B5.data(), c.N, 0.0f,
                   coarse.data(), c.N);
  const test::BoundReport r = test::measure_bound(coarse, fp32, abs_product(c, o), c.K);
  MESSAGE("5-bit operands: worst error / bf16 bound " << r.worst_ratio << ", " << r.violations
                                                      << " of " << coarse.size() << " outside");
  CHECK(r.violations > 0);
}

TEST_CASE(
    "an A operand packed once (and in BF16 mode converted to pairs once) multiplies as gemm") {
  // PackedOperandA (a convolution's weights, met by every image) against gemm<float>, which packs
  // and converts A again in every call: the same panels, slices and kernel, so the same bits.
  for (cpu::CpuKernels variant :
       {cpu::CpuKernels::portable, cpu::CpuKernels::avx2, cpu::CpuKernels::avx512}) {
    if (!cpu::cpu_kernels_supported(variant)) continue;
    const cpu::CpuKernels before = cpu::active_cpu_kernels();
    REQUIRE(cpu::set_cpu_kernels(variant));
    for (Precision precision : {Precision::FP32, Precision::BF16}) {
      ScopedPrecision mode(precision);
      for (const Case& c : kCases) {
        const Operands o = operands(c, 500 + c.K);
        for (float beta : {0.0f, 1.0f}) {
          std::vector<float> once(c.M * c.N, 0.5f), every_call(c.M * c.N, 0.5f);
          const cpu::MicroKernel<float> mk = cpu::micro_kernel_for<float>();
          const cpu::PackedOperandA<float> a(mk, o.A.data(), o.lda, c.ta, c.M, c.K);
          a.times(c.N, 1.0f, cpu::MatrixPackB<float>{o.B.data(), o.ldb, c.N, c.tb, mk.nr}, beta,
                  once.data(), c.N);
          cpu::gemm<float>(c.ta, c.tb, c.M, c.N, c.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb,
                           beta, every_call.data(), c.N);
          INFO(cpu::cpu_kernels_name(variant)
               << (precision == Precision::BF16 ? " bf16" : " fp32") << " M=" << c.M << " N=" << c.N
               << " K=" << c.K << " beta " << beta);
          CHECK(once == every_call);
        }
      }
    }
    cpu::set_cpu_kernels(before);
  }
}
