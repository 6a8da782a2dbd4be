// Kernel-level CUDA tests, below the op API: the hand-written SGEMM against the CPU GEMM and
// cuBLAS (every transpose, odd sizes, leading dimensions, alpha and beta, split-K), the
// hand-written convolution against the CPU and cuDNN (cuBLAS and cuDNN on a real GPU only), the fused optimiser updates against the CPU updates, the Philox
// dropout mask, and the determinism of the reductions (same input, same bits).
#include <doctest/doctest.h>

#include <tuple>
#include <vector>

#include "tests/cuda_parity.h"

#ifdef BUSI_WITH_CUDA

#include "kernels/cuda/runtime/controls.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/conv_workspace.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/reduce.h"

using namespace busi;
using test::uniform_tensor;

namespace {

const Device kGpu = Device::cuda();

// ---- GEMM ---------------------------------------------------------------------------------------

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  int64_t pad;  // extra elements at the end of every row (leading dimension > row length)
  float alpha, beta;
};

void check_gemm(const GemmCase& g, bool with_cublas) {
  test::Tf32Off tf32_off;
  // Stored shapes: A is (M, K) or, transposed, (K, M); likewise B; rows padded by g.pad.
  const int64_t a_rows = g.ta ? g.K : g.M, a_cols = g.ta ? g.M : g.K;
  const int64_t b_rows = g.tb ? g.N : g.K, b_cols = g.tb ? g.K : g.N;
  const int64_t lda = a_cols + g.pad, ldb = b_cols + g.pad, ldc = g.N + g.pad;
  const Tensor A = uniform_tensor({std::max<int64_t>(a_rows, 1), lda}, 1);
  const Tensor B = uniform_tensor({std::max<int64_t>(b_rows, 1), ldb}, 2);
  const Tensor C0 = uniform_tensor({std::max<int64_t>(g.M, 1), ldc}, 3);
  Tensor C_cpu = C0.clone();
  cpu::gemm<float>(g.ta, g.tb, g.M, g.N, g.K, g.alpha, A.data(), lda, B.data(), ldb, g.beta,
                   C_cpu.data(), ldc);
  const Tensor A_gpu = A.to(kGpu), B_gpu = B.to(kGpu);
  Tensor C_hand = C0.to(kGpu);
  cuda::gemm_handwritten(g.ta, g.tb, g.M, g.N, g.K, g.alpha, A_gpu.data(), lda, B_gpu.data(), ldb,
                         g.beta, C_hand.data(), ldc);
  const std::string name = std::string("gemm ") + (g.ta ? "T" : "N") + (g.tb ? "T" : "N") + " " +
                           std::to_string(g.M) + "x" + std::to_string(g.N) + "x" +
                           std::to_string(g.K) + " pad " + std::to_string(g.pad) + " alpha " +
                           std::to_string(g.alpha) + " beta " + std::to_string(g.beta);
  // Whole C, padding included: the padding columns must be left untouched by both.
  test::expect_close(name + " hand-written vs CPU", C_hand, C_cpu, 1e-5);
  if (!with_cublas) return;
  Tensor C_cublas = C0.to(kGpu);
  cuda::gemm_cublas(g.ta, g.tb, g.M, g.N, g.K, g.alpha, A_gpu.data(), lda, B_gpu.data(), ldb,
                    g.beta, C_cublas.data(), ldc);
  test::expect_close(name + " cuBLAS vs CPU", C_cublas, C_cpu, 1e-5);
  test::expect_close(name + " hand-written vs cuBLAS", C_hand, C_cublas, 1e-5);
}

// Every transposition of B, with A as stored (ta false) or transposed (ta true). Two test cases,
// so that the sanitizer run (tests/asan_tests.sh) can take them in two processes at once.
void check_gemm_sizes(bool ta, bool cublas) {
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> sizes = {
      {1, 1, 1},       {7, 9, 13},      {128, 128, 8},
      {129, 257, 65},  {32, 256, 3000},  // few tiles, long K: split-K
      {300, 20, 1000}, {2, 2000, 3},    {1, 1, 5000},
      {16, 48, 1237},  {3, 130, 4099}};  // split-K whose last split ends inside a K slice
  for (bool tb : {false, true})
    for (const auto& [M, N, K] : sizes) {
      check_gemm({ta, tb, M, N, K, 0, 1.0f, 0.0f}, cublas);
      check_gemm({ta, tb, M, N, K, 3, 1.5f, 0.5f}, cublas);
    }
}

}  // namespace

TEST_CASE("cuda gemm (A transposed): hand-written SGEMM matches cuBLAS and the CPU") {
  BUSI_REQUIRE_GPU();
  check_gemm_sizes(true, test::libraries_run("cuBLAS vs CPU and vs the hand-written SGEMM"));
}

TEST_CASE("cuda gemm: hand-written SGEMM matches cuBLAS and the CPU") {
  BUSI_REQUIRE_GPU();
  const bool cublas = test::libraries_run("cuBLAS vs CPU and vs the hand-written SGEMM");
  check_gemm_sizes(false, cublas);
  // Degenerate products: K = 0 or alpha = 0 leave C = beta C.
  check_gemm({false, false, 5, 6, 0, 1, 1.0f, 0.5f}, cublas);
  check_gemm({true, false, 5, 6, 7, 0, 0.0f, 2.0f}, cublas);
  check_gemm({false, true, 5, 6, 7, 0, 0.0f, 0.0f}, cublas);
  // Empty operands stored packed, as matmul passes them: (M, 0) has leading dimension 0, which
  // cuBLAS refuses; C = beta C (beta = 0 writes zeros) or nothing to do.
  check_gemm({false, false, 5, 6, 0, 0, 1.0f, 0.0f}, cublas);
  check_gemm({true, true, 5, 6, 0, 0, 1.0f, 0.5f}, cublas);
  check_gemm({false, false, 0, 6, 7, 0, 1.0f, 0.0f}, cublas);
  check_gemm({false, true, 5, 0, 7, 0, 1.0f, 0.0f}, cublas);
}

// ---- Convolution: hand-written vs cuDNN ---------------------------------------------------------

TEST_CASE("cuda conv2d: hand-written implicit GEMM matches the CPU and cuDNN") {
  BUSI_REQUIRE_GPU();
  test::Tf32Off tf32_off;
  const bool cudnn = test::libraries_run("cuDNN vs the CPU");
  // VGG- and SimpleCNN-like layers at a small batch and image size, plus stride 2 and 1x1.
  const std::vector<Conv2dShape> shapes = {
      {2, 3, 32, 32, 16, 3, 3, 1, 1, 32, 32},   {2, 16, 16, 16, 32, 3, 3, 1, 1, 16, 16},
      {1, 32, 9, 11, 8, 3, 3, 2, 1, 5, 6},      {3, 8, 7, 7, 12, 1, 1, 1, 0, 7, 7},
      {2, 64, 14, 14, 128, 3, 3, 1, 1, 14, 14}, {4, 1, 28, 28, 8, 5, 5, 2, 2, 14, 14}};
  for (const Conv2dShape& s : shapes) {
    const std::string name = "conv N" + std::to_string(s.N) + " C" + std::to_string(s.C) + " " +
                             std::to_string(s.H) + "x" + std::to_string(s.W) + " O" +
                             std::to_string(s.O) + " k" + std::to_string(s.kH) + " s" +
                             std::to_string(s.stride) + " p" + std::to_string(s.pad);
    const Tensor x_cpu = uniform_tensor({s.N, s.C, s.H, s.W}, 1);
    const Tensor w_cpu = uniform_tensor({s.O, s.C, s.kH, s.kW}, 2);
    const Tensor b_cpu = uniform_tensor({s.O}, 3);
    const Tensor dy_cpu = uniform_tensor({s.N, s.O, s.Ho, s.Wo}, 4);
    // The CPU reference.
    Tensor y0 = Tensor::empty(dy_cpu.shape()), dx0 = Tensor::empty(x_cpu.shape());
    Tensor dw0 = Tensor::empty(w_cpu.shape()), db0 = Tensor::empty({s.O});
    cpu::conv2d_forward<float>(s, x_cpu.data(), w_cpu.data(), b_cpu.data(), y0.data());
    cpu::conv2d_backward<float>(s, x_cpu.data(), w_cpu.data(), dy_cpu.data(), dx0.data(),
                                dw0.data(), db0.data());
    const Tensor x = x_cpu.to(kGpu), w = w_cpu.to(kGpu), b = b_cpu.to(kGpu), dy = dy_cpu.to(kGpu);
    for (bool use_cudnn : {false, true}) {
      if (use_cudnn && !cudnn) continue;
      Tensor y = Tensor::empty(dy.shape(), kGpu), dx = Tensor::empty(x.shape(), kGpu);
      Tensor dw = Tensor::empty(w.shape(), kGpu), db = Tensor::empty({s.O}, kGpu);
      if (use_cudnn) {
        cuda::conv2d_forward_cudnn(s, x.data(), w.data(), b.data(), y.data());
        cuda::conv2d_backward_cudnn(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                    db.data());
      } else {
        cuda::conv2d_forward_handwritten(s, x.data(), w.data(), b.data(), y.data());
        cuda::conv2d_backward_handwritten(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                          db.data());
      }
      // Hand-written: plain FP32 sums in another order than the CPU's, 1e-5. cuDNN: 1e-4, its
      // FFT / Winograd algorithms round differently (see test_cuda_ops.cpp).
      const double tol = use_cudnn ? 1e-4 : 1e-5;
      const std::string what = name + (use_cudnn ? " cuDNN" : " hand-written");
      test::expect_close(what + " y", y, y0, tol);
      test::expect_close(what + " dx", dx, dx0, tol);
      test::expect_close(what + " dw", dw, dw0, tol);
      test::expect_close(what + " db", db, db0, 1e-5);  // both paths use channel_sums
    }
    // The epilogue of the cuDNN path (bias, and ReLU for conv2d_relu), which the emulated device
    // runs too, on the CPU's y: with and without bias and ReLU, on the aligned tensor (float4
    // when the plane allows it) and on a view starting one float in (scalar path).
    const std::vector<float> bias = b_cpu.to_vector(), y_host = y0.to_vector();
    const int64_t P = s.Ho * s.Wo, count = static_cast<int64_t>(y_host.size());
    for (int offset : {0, 1}) {
      for (bool with_bias : {true, false}) {
        for (bool relu : {true, false}) {
          std::vector<float> padded(static_cast<size_t>(offset), 7.0f);
          padded.insert(padded.end(), y_host.begin(), y_host.end());
          Tensor buffer = Tensor::from_vector(padded, {offset + count}, kGpu);
          Tensor view = buffer.narrow0(offset, count);
          cuda::add_bias_relu(s.N, s.O, P, with_bias ? b.data() : nullptr, relu, view.data());
          const std::vector<float> got = buffer.to_vector();
          bool exact = offset == 0 || got[0] == 7.0f;  // nothing before the view is touched
          for (int64_t i = 0; i < count; ++i) {
            float want = y_host[i] + (with_bias ? bias[i / P % s.O] : 0.0f);
            if (relu) want = want > 0.0f ? want : 0.0f;
            exact = exact && got[offset + i] == want;
          }
          CHECK_MESSAGE(exact, name << ": add_bias_relu (bias " << with_bias << ", relu " << relu
                                    << ", offset " << offset << ")");
        }
      }
    }
  }
  // An empty batch, as on the CPU: nothing to compute forward, dw and db zero (cuDNN refuses a
  // descriptor with N = 0, so its path must not reach cuDNN).
  const Conv2dShape s{0, 3, 8, 8, 4, 3, 3, 1, 1, 8, 8};
  const Tensor x = Tensor::empty({0, 3, 8, 8}, kGpu), dy = Tensor::empty({0, 4, 8, 8}, kGpu);
  const Tensor w = uniform_tensor({4, 3, 3, 3}, 5).to(kGpu);
  for (bool use_cudnn : {false, true}) {
    if (use_cudnn && !cudnn) continue;
    Tensor y = Tensor::empty(dy.shape(), kGpu), dx = Tensor::empty(x.shape(), kGpu);
    Tensor dw = Tensor::full(w.shape(), 7.0f, kGpu), db = Tensor::full({4}, 7.0f, kGpu);
    if (use_cudnn) {
      cuda::conv2d_forward_cudnn(s, x.data(), w.data(), nullptr, y.data());
      cuda::conv2d_backward_cudnn(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                  db.data());
    } else {
      cuda::conv2d_forward_handwritten(s, x.data(), w.data(), nullptr, y.data());
      cuda::conv2d_backward_handwritten(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                        db.data());
    }
    INFO("empty batch, " << (use_cudnn ? "cuDNN" : "hand-written"));
    CHECK(dw.to_vector() == std::vector<float>(4 * 3 * 3 * 3, 0.0f));
    CHECK(db.to_vector() == std::vector<float>(4, 0.0f));
  }
}

TEST_CASE("cuDNN workspace limit: half of the memory free, cached blocks counted as free") {
  // A host formula (conv_workspace.h), checked on every build; conv_cudnn.cu applies it with
  // cudaMemGetInfo's free bytes and the caching allocator's cached bytes when a shape is first met.
  const size_t GiB = size_t(1) << 30;
  CHECK(cuda::conv_workspace_limit(130 * GiB, 0) == 65 * GiB);  // an idle H200: not 1 GiB
  CHECK(cuda::conv_workspace_limit(1 * GiB, 3 * GiB) == 2 * GiB);
  CHECK(cuda::conv_workspace_limit(0, 0) == 0);  // a full card: algorithms without workspace
}

// ---- Optimisers ---------------------------------------------------------------------------------

namespace {

// Parameters, gradients and state buffers for the optimiser tests: sizes that cross the
// kernel's 16384-element chunks, on both devices.
struct OptimTensors {
  std::vector<Tensor> cpu, gpu;  // per slot: param, grad, state1, state2 (4 tensors each)
  std::vector<int64_t> sizes{1, 1000, 16389, 70000, 3};

  OptimTensors() {
    uint64_t seed = 100;
    for (int64_t n : sizes) {
      for (int k = 0; k < 4; ++k) {
        // state2 (Adam's v) must be non-negative.
        const Tensor t = uniform_tensor({n}, seed++, k == 3 ? 0.0f : -1.0f, 1.0f);
        cpu.push_back(t.clone());
        gpu.push_back(t.to(kGpu));
      }
    }
  }
  std::vector<ParamSlot> slots(std::vector<Tensor>& ts) const {
    std::vector<ParamSlot> out;
    for (size_t i = 0; i < sizes.size(); ++i)
      out.push_back({ts[4 * i].data(), ts[4 * i + 1].data(), ts[4 * i + 2].data(),
                     ts[4 * i + 3].data(), sizes[i]});
    return out;
  }
  void expect_equal_state(const std::string& what) const {
    // Same float formulas on both devices; nvcc may fuse a multiply and an add into one FMA
    // where the CPU rounds twice, so values can differ in the last bit: 1e-6 normwise.
    for (size_t i = 0; i < cpu.size(); ++i)
      test::expect_close(what + " tensor " + std::to_string(i), gpu[i], cpu[i], 1e-6);
  }
};

}  // namespace

TEST_CASE("cuda optimisers: fused multi-tensor SGD and Adam match the CPU updates") {
  BUSI_REQUIRE_GPU();
  struct SgdCase {
    float momentum, wd;
    bool nesterov;
  };
  for (const SgdCase& sc :
       {SgdCase{0.0f, 0.0f, false}, SgdCase{0.9f, 1e-4f, false}, SgdCase{0.9f, 5e-4f, true}}) {
    OptimTensors t;
    SgdHyper h;
    h.lr = 0.05f;
    h.momentum = sc.momentum;
    h.weight_decay = sc.wd;
    h.nesterov = sc.nesterov;
    for (int step = 0; step < 3; ++step) {
      const bool first = step == 0;
      for (const ParamSlot& s : t.slots(t.cpu))
        cpu::sgd_update<float>(s.n, s.param, s.grad, s.state1, h, first);
      cuda::sgd_update_multi(t.slots(t.gpu), h, first);
    }
    t.expect_equal_state("sgd momentum " + std::to_string(sc.momentum) +
                         (sc.nesterov ? " nesterov" : ""));
  }
  for (bool decoupled : {false, true}) {
    OptimTensors t;
    AdamHyper h;
    h.lr = 1e-3f;
    h.weight_decay = 0.01f;
    h.decoupled = decoupled;
    for (int64_t step = 1; step <= 5; ++step) {
      h.step = step;
      for (const ParamSlot& s : t.slots(t.cpu))
        cpu::adam_update<float>(s.n, s.param, s.grad, s.state1, s.state2, h);
      cuda::adam_update_multi(t.slots(t.gpu), h);
    }
    t.expect_equal_state(decoupled ? "adamw" : "adam");
  }
  cuda::sgd_update_multi({}, SgdHyper{}, false);  // nothing to do is not an error
}

// ---- Dropout ------------------------------------------------------------------------------------

TEST_CASE("cuda dropout: the Philox mask is the CPU's, bit for bit") {
  BUSI_REQUIRE_GPU();
  for (uint64_t counter : {uint64_t(0), uint64_t(12345), uint64_t(1) << 40}) {
    const int64_t n = 4099;
    const Tensor x = uniform_tensor({n}, 21);
    Tensor y_cpu = Tensor::empty({n});
    cpu::dropout_forward<float>(n, x.data(), 0.3f, 99, counter, y_cpu.data());
    const Tensor x_gpu = x.to(kGpu);
    Tensor y_gpu = Tensor::empty({n}, kGpu);
    cuda::dropout_forward(n, x_gpu.data(), 0.3f, 99, counter, y_gpu.data());
    CHECK(y_gpu.to_vector() == y_cpu.to_vector());
    int64_t kept = 0;
    for (float v : y_cpu.to_vector()) kept += v != 0.0f;
    CHECK(kept > n / 2);  // about 70 % survive
  }
}

// ---- Reductions: determinism and the per-channel sums -------------------------------------------

TEST_CASE("cuda reductions are deterministic and match the CPU") {
  BUSI_REQUIRE_GPU();
  const Tensor x = uniform_tensor({3000001}, 31).to(kGpu);
  Tensor s1 = Tensor::empty({}, kGpu), s2 = Tensor::empty({}, kGpu);
  cuda::sum_all(x.data(), s1.data(), x.numel());
  cuda::sum_all(x.data(), s2.data(), x.numel());
  CHECK(s1.item() == s2.item());  // bit-identical
  // A broadcast gradient (per-channel bias) twice: same bits.
  const Tensor a = uniform_tensor({8, 16, 20, 20}, 32).to(kGpu);
  const Tensor b = uniform_tensor({1, 16, 1, 1}, 33).to(kGpu);
  Tensor a_req = a.clone(), b_req = b.clone();
  a_req.set_requires_grad(true);
  b_req.set_requires_grad(true);
  std::vector<float> first_db;
  for (int run = 0; run < 2; ++run) {
    b_req.zero_grad();
    mul(a_req, b_req).backward(a);
    if (run == 0)
      first_db = b_req.grad().to_vector();
    else
      CHECK(b_req.grad().to_vector() == first_db);
  }
  // channel_sums against a plain CPU loop in double.
  const int64_t N = 5, C = 7, HW = 300;
  const Tensor v = uniform_tensor({N, C, HW}, 34);
  std::vector<float> want(C, 0.0f);
  const std::vector<float> host = v.to_vector();
  for (int64_t c = 0; c < C; ++c) {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) total += host[(n * C + c) * HW + i];
    want[c] = static_cast<float>(total);
  }
  Tensor got = Tensor::empty({C}, kGpu);
  const Tensor v_gpu = v.to(kGpu);
  cuda::channel_sums(N, C, HW, v_gpu.data(), got.data());
  test::expect_close("channel_sums", got, Tensor::from_vector(want, {C}), 1e-6);
}

#else  // no CUDA backend in this build

TEST_CASE("cuda kernels") { BUSI_REQUIRE_GPU(); }

#endif
