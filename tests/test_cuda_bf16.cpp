// BF16 mode on the CUDA device (the emulated one here; the hand-written GEMM and implicit-GEMM
// convolution, which round their operands to bf16 as they load them): matmul, linear and conv2d,
// forward and both gradients, against the CPU in BF16 mode. Both round the same operands the same
// way, so they differ only in the order of the FP32 sums: |CUDA - CPU| <= 2 gamma_n (1 + u)^2 S
// per element (tests/bf16_bound.h). And the CUDA result in BF16 mode must differ from its own
// FP32 result by more than that (the rounding did happen on the device), within the bf16 bound.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/precision.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/matmul.h"
#include "tests/bf16_bound.h"
#include "tests/cuda_parity.h"

using namespace busi;

namespace {

// The op's output and the gradients of its inputs for upstream gradient g, on `device`.
std::vector<std::vector<float>> run(const std::function<Tensor(const std::vector<Tensor>&)>& op,
                                    const std::vector<Tensor>& inputs, const Tensor& g,
                                    Device device) {
  std::vector<Tensor> in;
  for (const Tensor& t : inputs) {
    in.push_back(device.is_cuda() ? t.to(device) : t.clone());
    in.back().set_requires_grad(true);
  }
  const Tensor y = op(in);
  y.backward(device.is_cuda() ? g.to(device) : g);
  std::vector<std::vector<float>> out{y.to_vector()};
  for (const Tensor& t : in) out.push_back(t.grad().to_vector());
  return out;
}

// CHECKs CUDA against the CPU, both in BF16 mode (order of sums only), and CUDA BF16 against
// CUDA FP32 (the bf16 bound, with visible rounding). S[i] and n[i] for output i (0: forward).
void check_device(const std::string& name,
                  const std::function<Tensor(const std::vector<Tensor>&)>& op,
                  const std::vector<Tensor>& inputs, const Tensor& g,
                  const std::vector<std::vector<double>>& S, const std::vector<double>& n) {
  test::Tf32Off tf32_off;
  std::vector<std::vector<float>> cpu16, gpu16, gpu32;
  {
    ScopedPrecision p(Precision::BF16);
    cpu16 = run(op, inputs, g, Device::cpu());
    gpu16 = run(op, inputs, g, Device::cuda());
  }
  gpu32 = run(op, inputs, g, Device::cuda());
  for (size_t i = 0; i < S.size(); ++i) {
    const std::string what = name + (i == 0 ? " forward" : " d(input " + std::to_string(i) + ")");
    int64_t outside = 0;
    double worst = 0.0;
    for (size_t e = 0; e < S[i].size(); ++e) {
      const double diff = std::abs(double(gpu16[i][e]) - cpu16[i][e]);
      outside += !(diff <= test::fp32_part(n[i]) * S[i][e]);
      worst = std::max(worst, diff);
    }
    MESSAGE(what << ": max |CUDA - CPU| in BF16 mode " << worst);
    CHECK_MESSAGE(outside == 0, what << ": " << outside << " elements differ beyond FP32 order");
    test::check_bf16_bound(what + " CUDA bf16 vs CUDA fp32", gpu16[i], gpu32[i], S[i], n[i]);
  }
}

}  // namespace

TEST_CASE("cuda bf16: matmul and linear, forward and backward, against the CPU") {
  BUSI_REQUIRE_GPU();
  const int64_t M = 24, K = 70, N = 20;
  const Tensor A = test::uniform_tensor({M, K}, 1), B = test::uniform_tensor({K, N}, 2);
  const Tensor g = test::uniform_tensor({M, N}, 3);
  const auto a = test::abs_doubles(A.to_vector()), b = test::abs_doubles(B.to_vector());
  const auto dc = test::abs_doubles(g.to_vector());
  std::vector<double> SC(M * N), SdA(M * K), SdB(K * N);
  cpu::matmul_forward<double>(a.data(), b.data(), SC.data(), M, K, N);
  cpu::matmul_backward<double>(a.data(), b.data(), dc.data(), SdA.data(), SdB.data(), M, K, N);
  check_device("matmul", [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {A, B},
               g, {SC, SdA, SdB}, {double(K), double(N), double(M)});

  // linear without bias: y (M, N) = x (M, K) W^T, W (N, K).
  const Tensor W = test::uniform_tensor({N, K}, 4);
  const auto w = test::abs_doubles(W.to_vector());
  std::vector<double> Sy(M * N), Sdx(M * K), SdW(N * K);
  cpu::linear_forward<double>(a.data(), w.data(), nullptr, Sy.data(), M, K, N);
  cpu::linear_backward<double>(a.data(), w.data(), dc.data(), Sdx.data(), SdW.data(), nullptr, M, K,
                               N);
  check_device("linear", [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {A, W},
               g, {Sy, Sdx, SdW}, {double(K), double(N), double(M)});
}

TEST_CASE("cuda bf16: conv2d forward, dx and dw, against the CPU") {
  BUSI_REQUIRE_GPU();
  // 8 input channels: the CPU's im2col in both modes, so both devices round x and w themselves
  // (from 16 channels the CPU's BF16 table runs Winograd F(2x2), which rounds the transformed
  // tiles instead: tests/test_conv_winograd_bf16.cpp).
  const Conv2dShape s{2, 8, 8, 8, 16, 3, 3, 1, 1, 8, 8};
  const Tensor x = test::uniform_tensor({s.N, s.C, s.H, s.W}, 5);
  const Tensor w = test::uniform_tensor({s.O, s.C, 3, 3}, 6);
  const Tensor g = test::uniform_tensor({s.N, s.O, s.Ho, s.Wo}, 7);
  const auto ax = test::abs_doubles(x.to_vector()), aw = test::abs_doubles(w.to_vector());
  const auto ady = test::abs_doubles(g.to_vector());
  std::vector<double> Sy(g.numel()), Sdx(x.numel()), Sdw(w.numel());
  cpu::conv2d_forward<double>(s, ax.data(), aw.data(), nullptr, Sy.data(),
                              cpu::ConvAlgorithm::im2col);
  cpu::conv2d_backward<double>(s, ax.data(), aw.data(), ady.data(), Sdx.data(), Sdw.data(), nullptr,
                               cpu::ConvAlgorithm::im2col);
  test::with_handwritten_conv([&] {
    check_device("conv2d",
                 [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), 1, 1); },
                 {x, w}, g, {Sy, Sdx, Sdw},
                 {s.C * 9.0, s.O * 9.0 + 9.0, double(s.N * s.Ho * s.Wo + s.N)});
  });
}
