// CUDA-vs-CPU parity of every op of engine/ops.h, forward and backward, on random inputs and on
// shapes chosen to reach every kernel path: odd sizes, sizes that are not multiples of 4 (the
// float4 tails), unaligned views, broadcasting of every kind, stride 2, padding, batch 1. The CPU
// is the reference; tolerances are 1e-5 normwise with TF32 off unless a comment says why not.
// Without a usable GPU every case prints one skip line and passes.
#include <doctest/doctest.h>

#include <tuple>

#include "engine/nn.h"
#include "tests/cuda_parity.h"

using namespace busi;
using test::ParityCase;
using test::uniform_tensor;

namespace {

Tensor shifted(const Tensor& t, float by) { return add_scalar(t, by); }

}  // namespace

// ---- Element-wise -------------------------------------------------------------------------------

TEST_CASE("cuda parity: add, sub, mul with and without broadcasting") {
  BUSI_REQUIRE_GPU();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1001}, {1001}},                    // same shape, not a multiple of 4 (float4 tail)
      {{3, 5, 7}, {3, 5, 7}},              // odd sizes
      {{4, 6, 5, 3}, {1, 6, 1, 1}},        // per-channel bias
      {{2, 3}, {3}},                       // row broadcast, missing leading dimension
      {{4, 5}, {}},                        // scalar
      {{3, 1}, {1, 4}},                    // both inputs broadcast
      {{1, 6, 1, 1}, {4, 6, 5, 3}},        // the broadcast input first
      {{40, 3, 150}, {1, 3, 1}},           // 6000 values each: channel sums; mul: a block each
      {{2, 1, 3, 1, 5}, {1, 4, 1, 2, 5}},  // interleaved broadcast dimensions
      // Per-channel sums over planes wider than a block (1155 >= 256, not a multiple of 4 x 256)
      // in two splits of 8 images each: stage 1's plane sweep and stage 2's sum of the splits.
      {{16, 3, 33, 35}, {1, 3, 1, 1}},
      {{64, 80}, {}},  // a scalar gradient of 5120 values: one block, no kept dimension
      // mul's db: 40000 warp reductions, more than the grid holds (132 SMs x 32 blocks x 8 warps):
      // the grid-stride loop over gradient elements.
      {{40000, 2}, {40000, 1}},
      {{0, 3}, {0, 3}},  // empty: no kernel, empty gradients
      {{0, 3}, {3}},     // empty with a broadcast operand: an empty result, db = 0
      {{1, 3}, {0, 3}},
  };
  int index = 0;
  for (const auto& [sa, sb] : shapes) {
    for (const char* name : {"add", "sub", "mul"}) {
      const std::string op_name = name;
      ParityCase c;
      c.name = op_name + " " + shape_str(sa) + " . " + shape_str(sb);
      c.inputs = {uniform_tensor(sa, 10 + index), uniform_tensor(sb, 20 + index)};
      c.op = [op_name](const std::vector<Tensor>& in) {
        if (op_name == "add") return add(in[0], in[1]);
        if (op_name == "sub") return sub(in[0], in[1]);
        return mul(in[0], in[1]);
      };
      test::check_parity(c);
    }
    ++index;
  }
}

TEST_CASE("cuda parity: element-wise ops on unaligned views (scalar paths)") {
  BUSI_REQUIRE_GPU();
  // Rows of 3 floats: row 1 starts 12 bytes into the storage, so float4 loads are not allowed.
  // narrow0 views are not recorded by autograd, so these cases check the forward only.
  ParityCase c;
  c.name = "add of unaligned views";
  c.inputs = {uniform_tensor({9, 3}, 1), uniform_tensor({9, 3}, 2)};
  c.op = [](const std::vector<Tensor>& in) {
    return add(in[0].narrow0(1, 7), in[1].narrow0(1, 7));
  };
  c.backward = false;
  test::check_parity(c);
  c.name = "relu of an unaligned view";
  c.op = [](const std::vector<Tensor>& in) { return relu(in[0].narrow0(1, 7)); };
  test::check_parity(c);
  c.name = "dropout-free scale of an unaligned view";
  c.op = [](const std::vector<Tensor>& in) { return scale(in[1].narrow0(1, 8), -2.5f); };
  test::check_parity(c);
}

TEST_CASE("cuda parity: scale, add_scalar, relu") {
  BUSI_REQUIRE_GPU();
  for (const Shape& shape : {Shape{0}, Shape{1}, Shape{7}, Shape{1000}, Shape{2, 3, 17, 19}}) {
    const Tensor x = uniform_tensor(shape, 5);
    test::check_parity(
        test::parity_case("scale " + shape_str(shape), {x},
                          [](const std::vector<Tensor>& in) { return scale(in[0], 0.75f); }));
    test::check_parity(
        test::parity_case("add_scalar " + shape_str(shape), {x},
                          [](const std::vector<Tensor>& in) { return add_scalar(in[0], -0.25f); }));
    test::check_parity(
        test::parity_case("relu " + shape_str(shape), {x},
                          [](const std::vector<Tensor>& in) { return relu(in[0]); }));
  }
}

// ---- Reductions and shapes ----------------------------------------------------------------------

TEST_CASE("cuda parity: sum and mean") {
  BUSI_REQUIRE_GPU();
  // Both devices accumulate in double, so the sums agree to float rounding whatever their order.
  for (int64_t n : {1, 3, 1000, 100003, 2000000}) {
    const Tensor x = uniform_tensor({n}, 7, -1.0f, 2.0f);
    test::check_parity(test::parity_case("sum of " + std::to_string(n), {x},
                                         [](const std::vector<Tensor>& in) { return sum(in[0]); }));
    test::check_parity(
        test::parity_case("mean of " + std::to_string(n), {x},
                          [](const std::vector<Tensor>& in) { return mean(in[0]); }));
  }
  // The empty sum is 0 (no stage-1 kernel); its backward broadcasts the scalar gradient over
  // shape (0), an empty gradient.
  ParityCase c;
  c.name = "sum of 0";
  c.inputs = {uniform_tensor({0}, 7)};
  c.op = [](const std::vector<Tensor>& in) { return sum(in[0]); };
  test::check_parity(c);
  c.backward = false;
  // An unaligned view (scalar loads) over several stage-1 blocks; narrow0 is not recorded by
  // autograd, so forward only.
  c.name = "sum of an unaligned view";
  c.inputs = {uniform_tensor({20001, 3}, 8)};
  c.op = [](const std::vector<Tensor>& in) { return sum(in[0].narrow0(1, 20000)); };
  test::check_parity(c);
}

TEST_CASE("cuda parity: reshape and flatten inside a computation") {
  BUSI_REQUIRE_GPU();
  test::check_parity(test::parity_case("flatten(relu(x)) . w",
                                       {uniform_tensor({2, 3, 4, 5}, 1), uniform_tensor({60}, 2)},
                                       [](const std::vector<Tensor>& in) {
                                         return mul(flatten(relu(in[0])), reshape(in[1], {1, -1}));
                                       }));
}

// ---- Matrix products ----------------------------------------------------------------------------

TEST_CASE("cuda parity: matmul and linear, cuBLAS and the hand-written SGEMM") {
  BUSI_REQUIRE_GPU();
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> sizes = {
      {1, 1, 1}, {3, 5, 7}, {33, 65, 17}, {130, 257, 129}, {1, 300, 2}};
  for (bool handwritten : {false, true}) {
    if (!handwritten && !test::libraries_run("matmul and linear through cuBLAS")) continue;
    auto run = [&] {
      for (const auto& [M, K, N] : sizes) {
        const std::string tag = std::string(handwritten ? "hand-written " : "cuBLAS ") + "(" +
                                std::to_string(M) + "x" + std::to_string(K) + "x" +
                                std::to_string(N) + ")";
        test::check_parity(test::parity_case(
            "matmul " + tag, {uniform_tensor({M, K}, 1), uniform_tensor({K, N}, 2)},
            [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }));
        // linear: x (M, K), weight (N, K), bias (N); and without bias.
        test::check_parity(test::parity_case(
            "linear " + tag,
            {uniform_tensor({M, K}, 3), uniform_tensor({N, K}, 4), uniform_tensor({N}, 5)},
            [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }));
        test::check_parity(test::parity_case(
            "linear without bias " + tag, {uniform_tensor({M, K}, 6), uniform_tensor({N, K}, 7)},
            [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }));
      }
    };
    if (handwritten) {
      test::with_handwritten_gemm(run);
    } else {
      run();
    }
  }
}

// ---- Convolution --------------------------------------------------------------------------------

namespace {

struct ConvCase {
  int64_t N, C, H, W, O, k, stride, pad;
  bool bias, input_grad;
};

std::string conv_name(const ConvCase& cc) {
  return "conv2d x(" + std::to_string(cc.N) + "," + std::to_string(cc.C) + "," +
         std::to_string(cc.H) + "," + std::to_string(cc.W) + ") O=" + std::to_string(cc.O) +
         " k=" + std::to_string(cc.k) + " s=" + std::to_string(cc.stride) +
         " p=" + std::to_string(cc.pad) + (cc.bias ? " bias" : "");
}

// Fixed cases for every rule, plus random ones.
std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases = {
      {1, 1, 5, 5, 1, 3, 1, 0, false, true},     // batch 1, one channel
      {2, 3, 7, 9, 4, 3, 1, 1, true, true},      // odd sizes, padding
      {2, 3, 9, 8, 5, 3, 2, 1, true, true},      // stride 2
      {3, 4, 6, 6, 6, 1, 1, 0, true, true},      // pointwise
      {1, 2, 11, 7, 3, 5, 2, 2, false, true},    // 5x5, stride 2, pad 2
      {2, 5, 8, 8, 130, 3, 1, 1, true, true},    // more than one 128-row tile of outputs
      {4, 1, 16, 16, 8, 3, 1, 1, false, false},  // first layer: no input gradient
  };
  Generator gen(2024);
  for (int i = 0; i < 8; ++i) {
    ConvCase cc;
    cc.N = test::random_int(gen, 1, 3);
    cc.C = test::random_int(gen, 1, 6);
    cc.O = test::random_int(gen, 1, 9);
    cc.k = test::random_int(gen, 1, 3) * 2 - 1;  // 1, 3 or 5
    cc.stride = test::random_int(gen, 1, 2);
    cc.pad = test::random_int(gen, 0, cc.k / 2);
    cc.H = test::random_int(gen, cc.k, 13);
    cc.W = test::random_int(gen, cc.k, 13);
    cc.bias = gen.randint(2) == 1;
    cc.input_grad = true;
    cases.push_back(cc);
  }
  return cases;
}

void check_conv(const ConvCase& cc, const std::string& backend, double tol, bool relu = false) {
  ParityCase c;
  c.name = conv_name(cc) + (relu ? " relu" : "") + " [" + backend + "]";
  c.inputs = {uniform_tensor({cc.N, cc.C, cc.H, cc.W}, 1),
              uniform_tensor({cc.O, cc.C, cc.k, cc.k}, 2)};
  if (cc.bias) c.inputs.push_back(uniform_tensor({cc.O}, 3));
  c.wants_grad = {cc.input_grad, true, true};
  c.wants_grad.resize(c.inputs.size());
  const int64_t stride = cc.stride, pad = cc.pad;
  c.op = [stride, pad, relu](const std::vector<Tensor>& in) {
    const Tensor bias = in.size() > 2 ? in[2] : Tensor();
    return relu ? conv2d_relu(in[0], in[1], bias, stride, pad)
                : conv2d(in[0], in[1], bias, stride, pad);
  };
  c.forward_tol = c.grad_tol = tol;
  test::check_parity(c);
}

}  // namespace

TEST_CASE("cuda parity: conv2d through cuDNN") {
  BUSI_REQUIRE_GPU();
  // 1e-4, not 1e-5: cuDNN may pick FFT or Winograd algorithms (even with TF32 off), whose
  // transforms round differently from the direct sum of products; their normwise error on O(1)
  // data is expected around 1e-6..1e-5, so 1e-5 would fail on correct results. A wrong index
  // gives errors of order 1.
  if (!test::libraries_run("conv2d through cuDNN")) return;
  for (const ConvCase& cc : conv_cases()) check_conv(cc, "cuDNN", 1e-4);
  // conv2d_relu: cuDNN's convolution, then the fused bias + ReLU epilogue (add_bias_relu).
  for (const ConvCase& cc : conv_cases()) check_conv(cc, "cuDNN", 1e-4, true);
}

TEST_CASE("cuda parity: conv2d through the hand-written implicit GEMM") {
  BUSI_REQUIRE_GPU();
  // Plain FP32 sums of products like the CPU's im2col + GEMM, in another order: 1e-5.
  test::with_handwritten_conv([] {
    for (const ConvCase& cc : conv_cases()) check_conv(cc, "hand-written", 1e-5);
    // conv2d_relu: the ReLU in the implicit GEMM's store (after split-K's sum).
    for (const ConvCase& cc : conv_cases()) check_conv(cc, "hand-written", 1e-5, true);
  });
}

// ---- Pooling ------------------------------------------------------------------------------------

TEST_CASE("cuda parity: max and average pooling") {
  BUSI_REQUIRE_GPU();
  struct PoolCase {
    Shape shape;
    int64_t k, stride, pad;
  };
  const std::vector<PoolCase> cases = {
      {{2, 3, 8, 8}, 2, 0, 0},  // the models' 2x2 pooling
      {{1, 2, 7, 9}, 2, 2, 0},  // odd sizes: the last row and column are dropped
      {{2, 2, 9, 7}, 3, 2, 1},  // overlapping windows with padding
      {{1, 1, 5, 6}, 3, 1, 1},  // stride 1: every element in up to 9 windows
      {{3, 4, 10, 10}, 5, 3, 2},
      {{1, 2, 9, 9}, 2, 3, 0},    // stride > kernel: gaps no window covers (CUDA zeroes them)
      {{2, 2, 10, 10}, 3, 3, 1},  // disjoint windows tiling the padded plane exactly
  };
  for (const PoolCase& pc : cases) {
    const std::string tag = shape_str(pc.shape) + " k=" + std::to_string(pc.k) +
                            " s=" + std::to_string(pc.stride) + " p=" + std::to_string(pc.pad);
    const int64_t k = pc.k, s = pc.stride, p = pc.pad;
    // Values from a small set, so windows often hold tied maxima: the first one must win on
    // both devices. Max pooling copies values and sums gradients in the CPU's window order, so
    // the results are identical: tolerance 0.
    Generator gen(test::seed_of(tag));
    std::vector<float> v(static_cast<size_t>(shape_numel(pc.shape)));
    for (float& x : v) x = static_cast<float>(gen.randint(5)) - 2.0f;
    test::check_parity(test::parity_case(
        "max_pool2d " + tag, {Tensor::from_vector(v, pc.shape)},
        [k, s, p](const std::vector<Tensor>& in) { return max_pool2d(in[0], k, s, p); }, 0.0));
    // Average pooling adds and divides in the same order as the CPU too, so 0 is expected; 1e-6
    // leaves room for a different but equally right rounding of the window counts' divisions.
    test::check_parity(test::parity_case(
        "avg_pool2d " + tag, {uniform_tensor(pc.shape, 3)},
        [k, s, p](const std::vector<Tensor>& in) { return avg_pool2d(in[0], k, s, p); }, 1e-6));
  }
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{2, 3, 7, 5}, Shape{4, 8, 28, 28}}) {
    test::check_parity(
        test::parity_case("global_avg_pool2d " + shape_str(shape), {uniform_tensor(shape, 4)},
                          [](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); }));
  }
}

// ---- Batch norm ---------------------------------------------------------------------------------

namespace {

// batch_norm2d on both devices with the same inputs and running statistics; compares y, the
// gradients of x, gamma, beta and (in training) the updated running statistics.
void check_batch_norm(const Shape& shape, bool training) {
  test::Tf32Off tf32_off;
  const int64_t C = shape[1];
  const std::string name =
      std::string("batch_norm2d ") + (training ? "train " : "eval ") + shape_str(shape);
  const Tensor x = uniform_tensor(shape, 1, -2.0f, 3.0f);
  const Tensor gamma = uniform_tensor({C}, 2, 0.5f, 1.5f), beta = uniform_tensor({C}, 3);
  const Tensor mean0 = uniform_tensor({C}, 4), var0 = uniform_tensor({C}, 5, 0.5f, 2.0f);
  const Tensor g = uniform_tensor(shape, 6);
  struct Run {
    Tensor x, gamma, beta, running_mean, running_var, y;
  };
  auto run = [&](Device d) {
    Run r{x.to(d), gamma.to(d), beta.to(d), mean0.clone().to(d), var0.clone().to(d), Tensor()};
    if (d.is_cpu()) {  // to() returns the same tensor on the same device: keep the inputs clean
      r.x = x.clone();
      r.gamma = gamma.clone();
      r.beta = beta.clone();
    }
    r.x.set_requires_grad(true);
    r.gamma.set_requires_grad(true);
    r.beta.set_requires_grad(true);
    r.y = batch_norm2d(r.x, r.gamma, r.beta, r.running_mean, r.running_var, training, 0.1f, 1e-5f);
    r.y.backward(g.to(d));
    return r;
  };
  const Run cpu = run(Device::cpu()), gpu = run(Device::cuda());
  test::expect_close(name + " y", gpu.y, cpu.y, 1e-5);
  test::expect_close(name + " dx", gpu.x.grad(), cpu.x.grad(), 1e-5);
  test::expect_close(name + " dgamma", gpu.gamma.grad(), cpu.gamma.grad(), 1e-5);
  test::expect_close(name + " dbeta", gpu.beta.grad(), cpu.beta.grad(), 1e-5);
  test::expect_close(name + " running_mean", gpu.running_mean, cpu.running_mean, 1e-6);
  test::expect_close(name + " running_var", gpu.running_var, cpu.running_var, 1e-6);
}

}  // namespace

TEST_CASE("cuda parity: batch_norm2d, training and eval") {
  BUSI_REQUIRE_GPU();
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{1, 4, 3, 3}, Shape{8, 16, 12, 12},
                             Shape{32, 5}, Shape{2, 2, 1, 1}, Shape{4, 3, 64, 70}}) {
    check_batch_norm(shape, true);
    check_batch_norm(shape, false);
  }
}

TEST_CASE("cuda parity: MeanCenter (mean-only batch norm), training and eval") {
  BUSI_REQUIRE_GPU();
  test::Tf32Off tf32_off;
  for (const Shape& shape : {Shape{16, 512}, Shape{7, 5}, Shape{2, 3}, Shape{1, 4}}) {
    const std::string name = "MeanCenter " + shape_str(shape);
    const Tensor x = uniform_tensor(shape, 11, -2.0f, 3.0f), g = uniform_tensor(shape, 12);
    const Tensor mean0 = uniform_tensor({shape[1]}, 13);
    for (bool training : {true, false}) {
      auto run = [&](Device d) {
        nn::MeanCenter center(shape[1]);
        center.running_mean.copy_(mean0);
        center.to(d);
        if (!training) center.eval();
        Tensor xd = x.clone().to(d);
        xd.set_requires_grad(true);
        const Tensor y = center(xd);
        y.backward(g.to(d));
        return std::tuple<Tensor, Tensor, Tensor>{y, xd.grad(), center.running_mean};
      };
      const auto [y_cpu, dx_cpu, r_cpu] = run(Device::cpu());
      const auto [y_gpu, dx_gpu, r_gpu] = run(Device::cuda());
      const std::string mode = training ? " train" : " eval";
      test::expect_close(name + mode + " y", y_gpu, y_cpu, 1e-5);  // a sum of N floats
      test::expect_close(name + mode + " dx", dx_gpu, dx_cpu, 1e-5);
      test::expect_close(name + mode + " running_mean", r_gpu, r_cpu, 1e-5);
    }
  }
}

// ---- Dropout ------------------------------------------------------------------------------------

TEST_CASE("cuda parity: dropout gives the same mask as the CPU") {
  BUSI_REQUIRE_GPU();
  for (int64_t n : {0, 1, 5, 1001, 65536}) {
    for (float p : {0.1f, 0.5f, 0.9f}) {
      // Same seed, same position in the stream: the same Philox values, so identical outputs
      // and gradients (tolerance 0).
      Generator gen_cpu(77), gen_gpu(77);
      const Tensor x = uniform_tensor({n}, 8);
      Tensor xc = x.clone(), xg = x.to(Device::cuda());
      xc.set_requires_grad(true);
      xg.set_requires_grad(true);
      const Tensor yc = dropout(xc, p, true, gen_cpu), yg = dropout(xg, p, true, gen_gpu);
      const std::string name = "dropout n=" + std::to_string(n) + " p=" + std::to_string(p);
      test::expect_close(name + " forward", yg, yc, 0.0);
      const Tensor g = uniform_tensor({n}, 9);
      yc.backward(g);
      yg.backward(g.to(Device::cuda()));
      test::expect_close(name + " backward", xg.grad(), xc.grad(), 0.0);
      CHECK(gen_cpu.offset() == gen_gpu.offset());
    }
  }
  // An unaligned view (scalar path) gives the same values as the CPU on the same view.
  Generator gen_cpu(5), gen_gpu(5);
  const Tensor base = uniform_tensor({11, 3}, 10);
  const Tensor yc = dropout(base.narrow0(1, 9), 0.3f, true, gen_cpu);
  const Tensor yg = dropout(base.to(Device::cuda()).narrow0(1, 9), 0.3f, true, gen_gpu);
  test::expect_close("dropout of an unaligned view", yg, yc, 0.0);
  // Eval mode returns x itself on both devices.
  const Tensor xg = base.to(Device::cuda());
  CHECK(dropout(xg, 0.5f, false, gen_gpu).id() == xg.id());
}

// ---- Softmax and losses -------------------------------------------------------------------------

TEST_CASE("cuda parity: softmax and log_softmax") {
  BUSI_REQUIRE_GPU();
  for (const Shape& shape :
       {Shape{1, 3}, Shape{7, 10}, Shape{5, 100}, Shape{3, 1000}, Shape{40, 1}, Shape{0, 4}}) {
    const Tensor x = uniform_tensor(shape, 11, -5.0f, 5.0f);
    test::check_parity(
        test::parity_case("softmax " + shape_str(shape), {x},
                          [](const std::vector<Tensor>& in) { return softmax(in[0]); }));
    test::check_parity(
        test::parity_case("log_softmax " + shape_str(shape), {x},
                          [](const std::vector<Tensor>& in) { return log_softmax(in[0]); }));
  }
}

TEST_CASE("cuda parity: cross_entropy with class weights and label smoothing") {
  BUSI_REQUIRE_GPU();
  struct CeCase {
    int64_t N, K;
    bool weighted;
    float smoothing;
  };
  for (const CeCase& ce :
       {CeCase{1, 3, false, 0.0f}, CeCase{8, 3, true, 0.0f}, CeCase{8, 3, false, 0.1f},
        CeCase{32, 3, true, 0.2f}, CeCase{50, 37, true, 0.05f}, CeCase{5, 1, false, 0.0f}}) {
    Generator gen(static_cast<uint64_t>(ce.N * 100 + ce.K));
    std::vector<int64_t> labels(static_cast<size_t>(ce.N));
    for (int64_t& l : labels) l = gen.randint(ce.K);
    std::vector<float> weights;
    if (ce.weighted)
      for (int64_t k = 0; k < ce.K; ++k) weights.push_back(0.5f + static_cast<float>(k % 3));
    const float smoothing = ce.smoothing;
    test::check_parity(test::parity_case(
        "cross_entropy N=" + std::to_string(ce.N) + " K=" + std::to_string(ce.K) +
            (ce.weighted ? " weighted" : "") + " smoothing=" + std::to_string(ce.smoothing),
        {uniform_tensor({ce.N, ce.K}, 12, -4.0f, 4.0f)},
        [labels, weights, smoothing](const std::vector<Tensor>& in) {
          return cross_entropy(in[0], labels, weights, smoothing);
        }));
  }
  // The loss as a function inside a bigger graph: the scalar gradient reaching the CUDA backward
  // comes from another op (scale), not from the seed.
  test::check_parity(
      test::parity_case("2.5 * cross_entropy + shift", {uniform_tensor({4, 3}, 13)},
                        [](const std::vector<Tensor>& in) {
                          return shifted(scale(cross_entropy(in[0], {0, 2, 1, 2}), 2.5f), 1.0f);
                        }));
}
