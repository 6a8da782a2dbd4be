// The blocked CPU GEMM against the naive triple loop: every transpose combination, sizes that
// are not multiples of the register tile or cache blocks, alpha/beta, in double precision; then
// each float micro-kernel variant this CPU runs (kernels/cpu/cpu_kernels.h), forced in turn.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm.h"
#include "tests/cpu_variants.h"
#include "tests/gradcheck.h"

using namespace busi;

TEST_CASE("blocked gemm matches the naive loop") {
  struct Case {
    int64_t M, N, K;
  };
  const Case cases[] = {{1, 1, 1}, {7, 5, 3}, {13, 37, 300}, {64, 1030, 27}, {130, 17, 513}};
  uint64_t seed = 1;
  for (const Case& c : cases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const auto A = test::random_doubles(c.M * c.K, seed++);
        const auto B = test::random_doubles(c.K * c.N, seed++);
        auto C1 = test::random_doubles(c.M * c.N, seed++);
        auto C2 = C1;
        const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N;
        cpu::gemm<double>(ta, tb, c.M, c.N, c.K, 0.5, A.data(), lda, B.data(), ldb, 2.0, C1.data(),
                          c.N);
        cpu::gemm_naive<double>(ta, tb, c.M, c.N, c.K, 0.5, A.data(), lda, B.data(), ldb, 2.0,
                                C2.data(), c.N);
        double worst = 0;
        for (size_t i = 0; i < C1.size(); ++i) worst = std::max(worst, std::abs(C1[i] - C2[i]));
        INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << ta << " tb=" << tb);
        CHECK(worst < 1e-10);
      }
}

TEST_CASE("gemm with beta = 0 ignores NaN in C") {
  std::vector<float> A{1, 2}, B{3, 4}, C{std::nanf("")};
  cpu::gemm<float>(false, false, 1, 1, 2, 1.0f, A.data(), 2, B.data(), 1, 0.0f, C.data(), 1);
  CHECK(C[0] == 11.0f);
}

namespace {}  // namespace

TEST_CASE("every float micro-kernel variant matches the naive loop within the rounding bound") {
  // Sizes around each variant's tile (6 x 16, 8 x 48) and cache blocks (K 128 / 256, N 768 / 960,
  // M 120 / 144), every transpose, alpha and beta, and beta = 0 over NaN. The float result must be within
  // (K + 2) u sum_k |a_ik| |b_kj| (+ the beta term) of the double one.
  struct Case {
    int64_t M, N, K;
  };
  const Case cases[] = {{1, 1, 1},      {7, 5, 3},      {9, 49, 257}, {13, 97, 300},
                        {64, 1030, 27}, {130, 17, 513}, {8, 48, 256}, {48, 481, 64},
                        {150, 97, 300}, {301, 1000, 20}};
  const cpu::CpuKernels original = cpu::active_cpu_kernels();
  const double u = std::ldexp(1.0, -24);
  for (cpu::CpuKernels v : test::runnable_variants()) {
    REQUIRE(cpu::set_cpu_kernels(v));
    CHECK(cpu::active_cpu_kernels() == v);
    uint64_t seed = 100;
    for (const Case& c : cases)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
          for (float beta : {0.0f, 1.0f, -0.5f}) {
            const auto A = test::random_floats(c.M * c.K, seed++);
            const auto B = test::random_floats(c.K * c.N, seed++);
            auto C = test::random_floats(c.M * c.N, seed++);
            if (beta == 0.0f) std::fill(C.begin(), C.end(), std::nanf(""));
            const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N;
            const std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
            std::vector<double> ref(C.begin(), C.end()), bound(c.M * c.N);
            std::vector<double> Aabs(Ad), Babs(Bd);
            for (double& e : Aabs) e = std::abs(e);
            for (double& e : Babs) e = std::abs(e);
            cpu::gemm_naive<double>(ta, tb, c.M, c.N, c.K, 0.75, Ad.data(), lda, Bd.data(), ldb,
                                    beta, ref.data(), c.N);
            cpu::gemm_naive<double>(ta, tb, c.M, c.N, c.K, 0.75, Aabs.data(), lda, Babs.data(), ldb,
                                    0.0, bound.data(), c.N);
            std::vector<float> got = C;
            cpu::gemm<float>(ta, tb, c.M, c.N, c.K, 0.75f, A.data(), lda, B.data(), ldb, beta,
                             got.data(), c.N);
            double worst = 0;
            for (size_t i = 0; i < got.size(); ++i) {
              const double beta_term = beta == 0.0f ? 0.0 : std::abs(beta * C[i]);
              const double limit = (c.K + 3) * u * (bound[i] + beta_term) + 1e-30;
              worst = std::max(worst, std::abs(got[i] - ref[i]) / limit);
            }
            INFO(cpu::cpu_kernels_name(v) << " M=" << c.M << " N=" << c.N << " K=" << c.K
                                          << " ta=" << ta << " tb=" << tb << " beta=" << beta);
            CHECK(worst <= 1.0);
          }
  }
  cpu::set_cpu_kernels(original);
}

TEST_CASE("the kernel variant choice") {
  CHECK(cpu::cpu_kernels_supported(cpu::CpuKernels::portable));
  CHECK(std::string(cpu::cpu_kernels_name(cpu::CpuKernels::avx512)) == "avx512");
  CHECK(std::string(cpu::cpu_kernels_name(cpu::CpuKernels::avx2)) == "avx2");
  const cpu::CpuKernels original = cpu::active_cpu_kernels();
  CHECK(cpu::cpu_kernels_supported(original));
  // What was chosen is named first in the description.
  CHECK(cpu::cpu_kernels_description().rfind(cpu::cpu_kernels_name(original), 0) == 0);
  for (cpu::CpuKernels v :
       {cpu::CpuKernels::portable, cpu::CpuKernels::avx2, cpu::CpuKernels::avx512}) {
    // A variant the CPU cannot run is refused and changes nothing.
    const cpu::CpuKernels before = cpu::active_cpu_kernels();
    CHECK(cpu::set_cpu_kernels(v) == cpu::cpu_kernels_supported(v));
    CHECK(cpu::active_cpu_kernels() == (cpu::cpu_kernels_supported(v) ? v : before));
  }
  cpu::set_cpu_kernels(original);
}
