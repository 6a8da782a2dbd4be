// The blocked CPU GEMM against the naive triple loop: every transpose combination, sizes that
// are not multiples of the register tile or cache blocks, alpha/beta, in double precision.
#include <doctest/doctest.h>

#include "kernels/cpu/gemm.h"
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
