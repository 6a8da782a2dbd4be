// matmul and linear: double-precision gradient checks of the kernels, autograd wiring, errors.
#include <doctest/doctest.h>

#include "kernels/cpu/matmul.h"
#include "tests/gradcheck.h"

using namespace busi;

TEST_CASE("matmul gradients, double precision") {
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {3, 5, 7}, {9, 17, 2}}) {
    auto A = test::random_doubles(M * K, 1), B = test::random_doubles(K * N, 2);
    const auto w = test::random_doubles(M * N, 3);
    std::vector<double> C(M * N), dA(M * K), dB(K * N);
    auto loss = [&] {
      cpu::matmul_forward<double>(A.data(), B.data(), C.data(), M, K, N);
      return test::weighted_sum(C, w);
    };
    cpu::matmul_backward<double>(A.data(), B.data(), w.data(), dA.data(), dB.data(), M, K, N);
    test::expect_gradient_matches("matmul dA", A, loss, dA);
    test::expect_gradient_matches("matmul dB", B, loss, dB);
  }
}

TEST_CASE("linear gradients, double precision") {
  for (auto [N, in, out] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 3, 2}, {5, 7, 3}, {4, 33, 9}}) {
    auto x = test::random_doubles(N * in, 4), W = test::random_doubles(out * in, 5);
    auto b = test::random_doubles(out, 6);
    const auto w = test::random_doubles(N * out, 7);
    std::vector<double> y(N * out), dx(N * in), dW(out * in), db(out);
    auto loss = [&] {
      cpu::linear_forward<double>(x.data(), W.data(), b.data(), y.data(), N, in, out);
      return test::weighted_sum(y, w);
    };
    cpu::linear_backward<double>(x.data(), W.data(), w.data(), dx.data(), dW.data(), db.data(), N,
                                 in, out);
    test::expect_gradient_matches("linear dx", x, loss, dx);
    test::expect_gradient_matches("linear dW", W, loss, dW);
    test::expect_gradient_matches("linear db", b, loss, db);
  }
}

TEST_CASE("matmul and linear through autograd (float)") {
  test::expect_autograd_matches_fd(
      "matmul", {test::random_tensor({3, 4}, 1), test::random_tensor({4, 2}, 2)},
      [](std::vector<Tensor>& in) { return sum(matmul(in[0], in[1])); });
  test::expect_autograd_matches_fd(
      "linear",
      {test::random_tensor({3, 4}, 3), test::random_tensor({5, 4}, 4), test::random_tensor({5}, 5)},
      [](std::vector<Tensor>& in) { return sum(relu(linear(in[0], in[1], in[2]))); });
}

TEST_CASE("linear forward values and shape errors") {
  Tensor x = Tensor::from_vector({1, 2}, {1, 2});
  Tensor W = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor b = Tensor::from_vector({0.5f, 0, -1}, {3});
  CHECK(linear(x, W, b).to_vector() == std::vector<float>{1.5f, 2, 2});
  CHECK_THROWS_WITH_AS(linear(x, Tensor::zeros({3, 5})),
                       doctest::Contains("linear: input (1, 2) does not match weight (3, 5)"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})),
                       doctest::Contains("matmul: shapes (2, 3) and (2, 3) do not multiply"),
                       Error);
}
