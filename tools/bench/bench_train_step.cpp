// bench_train_step: the time of one whole training step (forward, class-weighted cross-entropy,
// backward, AdamW update) of the two real models, SimpleCNN and VGG16, on the CPU or the GPU.
// tools/bench/bench_torch_reference.py times the same models and steps in PyTorch, so that the two
// can be put side by side (docs/benchmarks.md). Not a test.
//
//   build/tools/bench_train_step [--device auto|cpu|cuda] [--model simple|vgg16|both]
//                                [--batch N] [--img-size PX] [--steps N]
//                                [--precision fp32|bf16|auto]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/precision.h"
#include "kernels/cpu/cpu_kernels.h"
#include "models/simple_cnn.h"
#include "models/vgg16.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

using namespace busi;

namespace {

struct Settings {
  std::string device = "auto";
  std::string precision = "fp32";
  std::string model = "both";
  int64_t batch = 32;
  int64_t img_size = 0;  // 0: 224 on a GPU, 96 on the CPU
  int64_t steps = 10;
};

// Times `steps` training steps of `model` after two warm-up steps (which also fill the CUDA
// allocator's cache and cuDNN's algorithm choices) and prints the median.
void bench_model(const std::string& name, nn::Module& model, int64_t channels, const Settings& s,
                 Device device) {
  model.to(device);
  model.train();
  Generator gen(1);
  std::vector<float> pixels(static_cast<size_t>(s.batch * channels * s.img_size * s.img_size));
  for (float& p : pixels) p = static_cast<float>(gen.normal());
  const Tensor images =
      Tensor::from_vector(pixels, {s.batch, channels, s.img_size, s.img_size}, device);
  std::vector<int64_t> labels(static_cast<size_t>(s.batch));
  for (int64_t i = 0; i < s.batch; ++i) labels[i] = i % 3;
  const std::vector<float> class_weights = {0.6f, 1.2f, 2.0f};

  optim::ParamGroup group{"all", {}, 1e-4f, 0.01f};
  for (const NamedTensor& p : model.named_parameters())
    if (p.tensor.requires_grad()) group.params.push_back(p);
  auto optimizer = optim::make_adamw({group});

  auto step = [&] {
    const Tensor loss = cross_entropy(model(images), labels, class_weights);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    return loss.item();  // copies the loss to the host: the step has finished on the device
  };
  std::vector<double> seconds;
  for (int64_t i = 0; i < s.steps + 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step();
    if (i >= 2)
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  std::printf("| %s | %s | %s | %lld x %lld x %lld x %lld | %.2f | %.1f |\n", name.c_str(),
              device.str().c_str(), precision_name(precision()), static_cast<long long>(s.batch),
              static_cast<long long>(channels), static_cast<long long>(s.img_size),
              static_cast<long long>(s.img_size), 1e3 * median, s.batch / median);
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  Settings s;
  tools::CommandLine cli("bench_train_step",
                         "Times one training step (forward, loss, backward, AdamW) of SimpleCNN "
                         "and VGG16.");
  cli.add_choice("--device", &s.device, {"auto", "cpu", "cuda"}, "where to compute");
  cli.add_choice("--precision", &s.precision, {"fp32", "bf16", "auto"},
                 "GEMM/convolution math: fp32, or bf16 operands with FP32 accumulation (auto: "
                 "bf16 where the device has it natively)");
  cli.add_choice("--model", &s.model, {"simple", "vgg16", "both"}, "which model");
  cli.add("--batch", &s.batch, "N", "images per step");
  cli.add("--img-size", &s.img_size, "PX", "image side (0: 224 on a GPU, 96 on the CPU)");
  cli.add("--steps", &s.steps, "N", "timed steps (after 2 warm-up steps)");
  if (!cli.parse(argc, argv)) return 0;  // --help
  const Device device = choose_device(s.device);
  if (s.img_size == 0) s.img_size = device.is_cuda() ? 224 : 96;
  const PrecisionChoice precision_choice = resolve_precision(s.precision, device);
  set_precision(precision_choice.precision);
  std::printf("bench_train_step: %s\n", precision_description(precision_choice).c_str());
  if (s.batch < 1 || s.steps < 1 || s.img_size < 32)
    throw tools::UsageError("--batch and --steps must be >= 1, --img-size >= 32");
#ifdef BUSI_WITH_CUDA
  if (device.is_cuda()) std::printf("bench_train_step: %s\n", cuda::runtime_description().c_str());
#endif
  if (!device.is_cuda()) {
    double load = 0.0;
    if (getloadavg(&load, 1) != 1) load = -1.0;
    std::printf("bench_train_step: cpu, %d OpenMP threads, kernels %s, load average %.2f\n",
                omp_get_max_threads(), cpu::cpu_kernels_description().c_str(), load);
  }
  std::printf(
      "\n| model | device | precision | input (N x C x H x W) | ms / step (median of %lld) | "
      "img/s |\n|---|---|---|---|---:|---:|\n",
      static_cast<long long>(s.steps));
  if (s.model != "vgg16") {
    models::SimpleCNN simple;
    bench_model("SimpleCNN", simple, 1, s, device);
  }
  if (s.model != "simple") {
    models::VGG16 vgg;
    bench_model("VGG16 (all layers trained)", vgg, 3, s, device);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tools::run_tool_main("bench_train_step", run, argc, argv);
}
