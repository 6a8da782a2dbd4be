// A whole training step of a SimpleCNN-sized network on CUDA against the same step on the CPU:
// conv -> batch norm -> ReLU -> max-pool, a stride-2 convolution, average and global pooling,
// dropout, a linear layer, the weighted and smoothed cross-entropy, backward, and SGD with
// Nesterov momentum and weight decay, for three steps. Checks the losses, the gradients, the
// parameters and the running statistics after every step, that the steady state of a step
// makes no cudaMalloc (the caching allocator serves everything), and that the host never waits
// for the device inside a step.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/optim.h"
#include "tests/cuda_parity.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

using namespace busi;
using test::uniform_tensor;

namespace {

// The network's tensors on one device, in a fixed order (parameters first, then buffers).
struct Net {
  // The convolutions followed by batch norm have no bias: the normalisation removes any
  // per-channel constant, so such a bias gets an exactly zero gradient (rounding noise).
  std::vector<std::string> names = {"conv1.w",  "bn1.gamma", "bn1.beta", "conv2.w", "bn2.gamma",
                                    "bn2.beta", "conv3.w",   "conv3.b",  "fc.w",    "fc.b"};
  std::vector<Tensor> params;
  Tensor bn1_mean, bn1_var, bn2_mean, bn2_var;
  Generator dropout_gen{42};

  explicit Net(Device d) {
    // Same order as names.
    const std::vector<Shape> shapes = {
        {8, 1, 3, 3}, {8}, {8}, {16, 8, 3, 3}, {16}, {16}, {32, 16, 3, 3}, {32}, {3, 32}, {3}};
    for (size_t i = 0; i < shapes.size(); ++i) {
      const bool is_gamma = names[i].find("gamma") != std::string::npos;
      Tensor param =
          uniform_tensor(shapes[i], 500 + i, is_gamma ? 0.8f : -0.5f, is_gamma ? 1.2f : 0.5f).to(d);
      param.set_requires_grad(true);
      params.push_back(param);
    }
    bn1_mean = Tensor::zeros({8}, d);
    bn1_var = Tensor::ones({8}, d);
    bn2_mean = Tensor::zeros({16}, d);
    bn2_var = Tensor::ones({16}, d);
  }
  const Tensor& p(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return params[i];
    throw Error("no parameter " + name);
  }

  Tensor loss(const Tensor& x, const std::vector<int64_t>& labels) {
    Tensor h = conv2d(x, p("conv1.w"), Tensor(), 1, 1);  // (N, 8, 24, 24)
    h = relu(batch_norm2d(h, p("bn1.gamma"), p("bn1.beta"), bn1_mean, bn1_var, true));
    h = max_pool2d(h, 2);                         // (N, 8, 12, 12)
    h = conv2d(h, p("conv2.w"), Tensor(), 2, 1);  // (N, 16, 6, 6)
    h = relu(batch_norm2d(h, p("bn2.gamma"), p("bn2.beta"), bn2_mean, bn2_var, true));
    h = relu(conv2d(h, p("conv3.w"), p("conv3.b"), 1, 1));  // (N, 32, 6, 6)
    h = global_avg_pool2d(avg_pool2d(h, 2));                // (N, 32)
    h = dropout(h, 0.2f, true, dropout_gen);
    const Tensor logits = linear(h, p("fc.w"), p("fc.b"));  // (N, 3)
    return cross_entropy(logits, labels, {1.0f, 2.0f, 0.5f}, 0.1f);
  }

  std::vector<optim::ParamGroup> groups() const {
    optim::ParamGroup g;
    g.name = "all";
    g.lr = 0.05f;
    g.weight_decay = 1e-4f;
    for (size_t i = 0; i < names.size(); ++i) g.params.push_back({names[i], params[i]});
    return {g};
  }
};

}  // namespace

TEST_CASE("cuda training step of a small CNN matches the CPU step") {
  BUSI_REQUIRE_GPU();
  test::Tf32Off tf32_off;
  const int64_t N = 4;
  const Tensor x = uniform_tensor({N, 1, 24, 24}, 7, 0.0f, 1.0f);
  const std::vector<int64_t> labels = {0, 2, 1, 2};
  Net cpu(Device::cpu()), gpu(Device::cuda());
  optim::SGD sgd_cpu(cpu.groups(), 0.9f, true), sgd_gpu(gpu.groups(), 0.9f, true);
  const Tensor x_gpu = x.to(Device::cuda());
#ifdef BUSI_WITH_CUDA
  int64_t mallocs_after_second_step = 0;
#endif
  for (int step = 0; step < 3; ++step) {
    const std::string at = "step " + std::to_string(step) + " ";
    sgd_cpu.zero_grad();
    sgd_gpu.zero_grad();
    const Tensor loss_cpu = cpu.loss(x, labels);
#ifdef BUSI_WITH_CUDA
    // The host never waits for the device inside a step: the labels and class weights reach it
    // through staged copies (kernels/cuda/runtime/memory.cu), and the backward and the update
    // only queue work. Reading the loss is the step's one wait.
    const int64_t waits_before = cuda::host_waits();
#endif
    const Tensor loss_gpu = gpu.loss(x_gpu, labels);
    loss_gpu.backward();
#ifdef BUSI_WITH_CUDA
    CHECK_MESSAGE(cuda::host_waits() == waits_before, at << "forward and backward waited");
#endif
    test::expect_close(at + "loss", loss_gpu, loss_cpu, 1e-5);
    loss_cpu.backward();
    // 1e-4 for gradients and state: the convolutions run through cuDNN, whose algorithms round
    // differently from the CPU's direct sums (see test_cuda_ops.cpp), and batch norm's backward
    // subtracts nearly equal sums, which raises the relative size of those differences.
    for (size_t i = 0; i < cpu.params.size(); ++i)
      test::expect_close(at + "grad " + cpu.names[i], gpu.params[i].grad(), cpu.params[i].grad(),
                         1e-4);
    sgd_cpu.step();
#ifdef BUSI_WITH_CUDA
    const int64_t waits_before_update = cuda::host_waits();
    sgd_gpu.step();
    CHECK_MESSAGE(cuda::host_waits() == waits_before_update, at << "the update waited");
#else
    sgd_gpu.step();
#endif
    for (size_t i = 0; i < cpu.params.size(); ++i)
      test::expect_close(at + "param " + cpu.names[i], gpu.params[i], cpu.params[i], 1e-5);
    test::expect_close(at + "bn1 running mean", gpu.bn1_mean, cpu.bn1_mean, 1e-5);
    test::expect_close(at + "bn1 running var", gpu.bn1_var, cpu.bn1_var, 1e-5);
    test::expect_close(at + "bn2 running mean", gpu.bn2_mean, cpu.bn2_mean, 1e-4);
    test::expect_close(at + "bn2 running var", gpu.bn2_var, cpu.bn2_var, 1e-4);
#ifdef BUSI_WITH_CUDA
    // The first step finds cuDNN algorithms and creates the momentum buffers; after the second,
    // every block a step needs is in the allocator's cache.
    if (step == 1) mallocs_after_second_step = cuda::allocator_stats().num_cuda_mallocs;
    if (step == 2) {
      const cuda::AllocatorStats stats = cuda::allocator_stats();
      // (Not with BUSI_CUDA_ALLOC=exact, memcheck's mode, which bypasses the cache on purpose.)
      if (!cuda::exact_allocation()) CHECK(stats.num_cuda_mallocs == mallocs_after_second_step);
      MESSAGE("allocator after 3 steps: " << stats.allocated_bytes / 1024 << " KiB in use, peak "
                                          << stats.peak_bytes / 1024 << " KiB, cached "
                                          << stats.cached_bytes / 1024 << " KiB, "
                                          << stats.num_cuda_mallocs << " cudaMallocs");
    }
#endif
  }
}
