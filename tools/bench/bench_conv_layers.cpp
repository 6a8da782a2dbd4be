// bench_conv_layers: the time of every convolution layer of SimpleCNN and VGG16 (batch 32 at
// 96 px by default, as bench_train_step --device cpu) by algorithm: im2col + GEMM (the
// reference), im2col with the packing fused, Winograd F(2x2, 3x3) and F(4x4, 3x3); forward, input
// gradient dx and weight gradient dw each, and what the algorithm table (kernels/cpu/conv.cpp)
// picks. The measurements behind that table (docs/benchmarks.md). A benchmark, not a test.
// --precision bf16 times the BF16-mode products (docs/bf16.md), where F(4x4) gives way to F(2x2).
//
//   build/tools/bench_conv_layers [--model simple|vgg16|both] [--batch N] [--img-size PX]
//                                 [--runs N] [--clock wall|cpu] [--precision fp32|bf16]
// --clock cpu times the process's CPU seconds instead of wall seconds: on a machine shared with
// other work the steadier figure for comparing algorithms (with OMP_WAIT_POLICY=passive, so that
// waiting threads do not spin), though not the speed a user sees.
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/precision.h"
#include "kernels/common/shapes.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tools/bench/cpu_timing.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"

using namespace busi;

namespace {

struct Settings {
  std::string model = "both";
  int64_t batch = 32, img_size = 96, runs = 3;
  std::string clock = "wall";
  std::string precision = "fp32";
};

tools::BenchClock g_clock = tools::BenchClock::wall;  // --clock

// Median seconds of `runs` calls after one warm-up call, by the --clock clock.
double median_seconds(const std::function<void()>& fn, int64_t runs) {
  return tools::median_seconds(fn, runs, 1, g_clock);
}

struct Layer {
  std::string name;
  int64_t C, O, size;  // 3x3, stride 1, padding 1, size x size
  bool first;          // the network's input needs no dx
};

// The distinct layer shapes (a repeated shape is timed once; `name` lists its layers).
std::vector<Layer> layers_of(const std::string& model, int64_t img) {
  if (model == "simple")
    return {{"block1_conv", 1, 32, img, true},
            {"block2_conv", 32, 64, img / 2, false},
            {"block3_conv", 64, 128, img / 4, false},
            {"block4_conv", 128, 256, img / 8, false}};
  return {{"block1_conv1", 3, 64, img, true},
          {"block1_conv2", 64, 64, img, false},
          {"block2_conv1", 64, 128, img / 2, false},
          {"block2_conv2", 128, 128, img / 2, false},
          {"block3_conv1", 128, 256, img / 4, false},
          {"block3_conv2,3", 256, 256, img / 4, false},
          {"block4_conv1", 256, 512, img / 8, false},
          {"block4_conv2,3", 512, 512, img / 8, false},
          {"block5_conv1,2,3", 512, 512, img / 16, false}};
}

// Milliseconds of forward, dx and dw (dx: -1 for a first layer) with `algorithm`.
struct Times {
  double forward, dx, dw;
};
Times time_layer(const Conv2dShape& s, bool first, cpu::ConvAlgorithm algorithm, int64_t runs) {
  const std::vector<float> x = tools::random_floats(s.N * s.C * s.H * s.W, 1);
  const std::vector<float> w = tools::random_floats(s.O * s.C * 9, 2);
  const std::vector<float> dy = tools::random_floats(s.N * s.O * s.Ho * s.Wo, 3);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
  Times t{};
  t.forward =
      1e3 *
      median_seconds(
          [&] { cpu::conv2d_forward<float>(s, x.data(), w.data(), nullptr, y.data(), algorithm); },
          runs);
  t.dx = first ? -1.0
               : 1e3 * median_seconds(
                           [&] {
                             cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(),
                                                         dx.data(), nullptr, nullptr, algorithm);
                           },
                           runs);
  t.dw = 1e3 * median_seconds(
                   [&] {
                     cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), nullptr,
                                                 dw.data(), nullptr, algorithm);
                   },
                   runs);
  return t;
}

void bench_model(const std::string& model, const Settings& st) {
  std::printf(
      "\n%s, batch %lld at %lld px: ms per call (median of %lld), GFLOP/s of the direct "
      "sum (2 x N O C 9 Ho Wo)\n\n",
      model == "simple" ? "SimpleCNN" : "VGG16", static_cast<long long>(st.batch),
      static_cast<long long>(st.img_size), static_cast<long long>(st.runs));
  std::printf(
      "| layer | C -> O, size | algorithm | forward ms | dx ms | dw ms | forward GFLOP/s | "
      "table picks (fwd/dx/dw) |\n|---|---|---|---:|---:|---:|---:|---|\n");
  for (const Layer& l : layers_of(model, st.img_size)) {
    const Conv2dShape s{st.batch, l.C, l.size, l.size, l.O, 3, 3, 1, 1, l.size, l.size};
    const double flops = 2.0 * s.N * s.O * s.C * 9 * s.Ho * s.Wo;
    const cpu::ConvChoice pick = cpu::choose_conv_algorithms(s);
    const std::string picks = std::string(cpu::conv_algorithm_name(pick.forward)) + " / " +
                              cpu::conv_algorithm_name(pick.backward_data) + " / " +
                              cpu::conv_algorithm_name(pick.backward_filter);
    for (cpu::ConvAlgorithm a : {cpu::ConvAlgorithm::im2col, cpu::ConvAlgorithm::im2col_packed,
                                 cpu::ConvAlgorithm::winograd, cpu::ConvAlgorithm::winograd4x4}) {
      if (a == cpu::ConvAlgorithm::winograd4x4 && bf16_gemms()) continue;  // runs as F(2x2)
      const Times t = time_layer(s, l.first, a, st.runs);
      char dx[32] = "-";
      if (t.dx >= 0) std::snprintf(dx, sizeof dx, "%.2f", t.dx);
      std::printf("| %s | %lld -> %lld, %lld | %s | %.2f | %s | %.2f | %.1f | %s |\n",
                  l.name.c_str(), static_cast<long long>(l.C), static_cast<long long>(l.O),
                  static_cast<long long>(l.size), cpu::conv_algorithm_name(a), t.forward, dx, t.dw,
                  flops / t.forward * 1e-6, a == cpu::ConvAlgorithm::im2col ? picks.c_str() : "");
      std::fflush(stdout);
    }
  }
}

int run(int argc, char** argv) {
  Settings st;
  tools::CommandLine cli("bench_conv_layers",
                         "Times each conv layer of SimpleCNN and VGG16 with each CPU algorithm.");
  cli.add_choice("--model", &st.model, {"simple", "vgg16", "both"}, "which model's layers");
  cli.add("--batch", &st.batch, "N", "images per call");
  cli.add("--img-size", &st.img_size, "PX", "the model's input side");
  cli.add("--runs", &st.runs, "N", "timed calls per figure (after one warm-up)");
  cli.add_choice("--clock", &st.clock, {"wall", "cpu"},
                 "wall seconds, or the process's CPU seconds");
  cli.add_choice("--precision", &st.precision, {"fp32", "bf16"},
                 "the products' precision (bf16: operands rounded, FP32 sums)");
  if (!cli.parse(argc, argv)) return 0;  // --help
  if (st.batch < 1 || st.runs < 1 || st.img_size < 32)
    throw tools::UsageError("--batch and --runs must be >= 1, --img-size >= 32");
  g_clock = st.clock == "cpu" ? tools::BenchClock::process_cpu : tools::BenchClock::wall;
  set_precision(st.precision == "bf16" ? Precision::BF16 : Precision::FP32);
  double load = 0.0;
  getloadavg(&load, 1);
  std::printf(
      "bench_conv_layers: %d OpenMP threads, kernels %s, precision %s, load average %.2f, %s "
      "clock\n",
      omp_get_max_threads(), cpu::cpu_kernels_description().c_str(), precision_name(precision()),
      load, st.clock.c_str());
  if (st.model != "vgg16") bench_model("simple", st);
  if (st.model != "simple") bench_model("vgg16", st);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tools::run_tool_main("bench_conv_layers", run, argc, argv);
}
