// bench_cpu: the FMA peak of this CPU (both vector widths), the blocked GEMM with each micro-kernel
// variant the CPU runs (as a share of that peak) and next to the naive loop, conv2d next to its
// naive loops, and the time of one small-CNN training step. A benchmark, not a test.
// Per-layer convolution times by algorithm: bench_conv_layers.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/common/shapes.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/peak_fma.h"
#include "tools/bench/cpu_timing.h"

using namespace busi;

namespace {

using tools::median_seconds;
using tools::random_floats;

// One table row: what was timed, its shape, the median time and the rate in GFLOP/s (2 FLOPs per
// multiply-accumulate; flops = 0 prints no rate).
void print_row(const std::string& what, const std::string& shape, double seconds, double flops,
               int runs) {
  std::printf("  %-30s %-34s %10.2f ms", what.c_str(), shape.c_str(), seconds * 1e3);
  if (flops > 0) std::printf(" %9.1f GFLOP/s", flops / seconds * 1e-9);
  std::printf("   (median of %d)\n", runs);
}

// ---- The FMA peak and the GEMM ------------------------------------------------------------------

// The clock /proc/cpuinfo reports ("cpu MHz"), in GHz; 0 where there is none.
double cpuinfo_ghz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("cpu MHz", 0) == 0)
      return std::atof(line.substr(line.find(':') + 1).c_str()) / 1e3;
  return 0.0;
}

// The measured peaks of this run (GFLOP/s, all threads), by vector width; 0: not available.
struct Peaks {
  double bits512 = 0, bits256 = 0;
  double ghz = 0;  // for the theoretical peak: threads x 2 FMA pipes x lanes x 2 FLOPs x GHz
  double theoretical(int lanes) const { return omp_get_max_threads() * 2.0 * lanes * 2 * ghz; }
};

Peaks bench_peak() {
  Peaks p;
  p.ghz = cpuinfo_ghz();
  const int threads = omp_get_max_threads();
  std::printf("FMA peak (independent FMA chains in registers, %d thread(s) at once)\n", threads);
  for (auto [width, lanes, name] : {std::tuple{cpu::FmaWidth::bits512, 16, "512-bit (AVX-512)"},
                                    std::tuple{cpu::FmaWidth::bits256, 8, "256-bit (AVX2+FMA)"}}) {
    double best = 0;  // the best of three: a busy machine only ever slows the loop down
    for (int i = 0; i < 3; ++i) best = std::max(best, cpu::measure_peak_fma(width, threads));
    (width == cpu::FmaWidth::bits512 ? p.bits512 : p.bits256) = best;
    if (best == 0) {
      std::printf("  %-20s not supported by this CPU\n", name);
      continue;
    }
    std::printf(
        "  %-20s %8.1f GFLOP/s measured; theoretical %.1f (2 FMA pipes x %d lanes at %.2f GHz)\n",
        name, best, p.theoretical(lanes), lanes, p.ghz);
  }
  // vdpbf16ps: two bf16 products per lane per instruction, the bf16 GEMM's ceiling; on CPUs
  // where it issues at the FMA's rate it doubles the FP32 peak.
  double bf16 = 0;
  for (int i = 0; i < 3; ++i) bf16 = std::max(bf16, cpu::measure_peak_dpbf16(threads));
  if (bf16 == 0)
    std::printf("  %-20s not supported by this CPU\n", "bf16 dot (AVX512-BF16)");
  else
    std::printf("  %-20s %8.1f GFLOP/s measured (vdpbf16ps, %.2f x the 512-bit FMA peak)\n",
                "bf16 dot (AVX512-BF16)", bf16, p.bits512 > 0 ? bf16 / p.bits512 : 0.0);
  return p;
}

// C (M, N) = A (M, K) B (K, N) with the active variant; rate against the peak of its width.
void bench_gemm(const std::string& label, int64_t M, int64_t N, int64_t K, int runs,
                const Peaks& peaks) {
  const std::vector<float> A = random_floats(M * K, 1), B = random_floats(K * N, 2);
  std::vector<float> C(M * N);
  const double flops = 2.0 * M * N * K;
  const std::string shape = std::to_string(M) + "x" + std::to_string(K) + " * " +
                            std::to_string(K) + "x" + std::to_string(N);
  const double blocked = median_seconds(
      [&] {
        cpu::gemm<float>(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
      },
      runs, 1);
  const cpu::CpuKernels v = cpu::active_cpu_kernels();
  const bool wide =
      v == cpu::CpuKernels::avx512 || (v == cpu::CpuKernels::portable && peaks.bits512 > 0);
  const double peak = wide ? peaks.bits512 : peaks.bits256;
  const double theory = peaks.theoretical(wide ? 16 : 8);
  print_row(std::string("gemm ") + cpu::cpu_kernels_name(v) + " " + label, shape, blocked, flops,
            runs);
  if (peak > 0)
    std::printf("  %-30s %.0f %% of the measured %d-bit peak, %.0f %% of the theoretical\n", "",
                100 * flops / blocked * 1e-9 / peak, wide ? 512 : 256,
                100 * flops / blocked * 1e-9 / theory);
}

void bench_gemm_naive(int64_t M, int64_t N, int64_t K) {
  const std::vector<float> A = random_floats(M * K, 1), B = random_floats(K * N, 2);
  std::vector<float> C(M * N);
  const double naive = median_seconds(
      [&] {
        cpu::gemm_naive<float>(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f,
                               C.data(), N);
      },
      1, 0);
  print_row("gemm_naive",
            std::to_string(M) + "x" + std::to_string(K) + " * " + std::to_string(K) + "x" +
                std::to_string(N),
            naive, 2.0 * M * N * K, 1);
}

// ---- Convolution --------------------------------------------------------------------------------

// The definition as a direct loop, single-threaded: y = b + sum w x over each window.
void naive_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b,
                          float* y) {
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < s.Ho; ++i)
        for (int64_t j = 0; j < s.Wo; ++j) {
          float total = b[o];
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t p = 0; p < s.kH; ++p)
              for (int64_t q = 0; q < s.kW; ++q) {
                const int64_t h = i * s.stride - s.pad + p, v = j * s.stride - s.pad + q;
                if (h >= 0 && h < s.H && v >= 0 && v < s.W)
                  total += w[((o * s.C + c) * s.kH + p) * s.kW + q] *
                           x[((n * s.C + c) * s.H + h) * s.W + v];
              }
          y[((n * s.O + o) * s.Ho + i) * s.Wo + j] = total;
        }
}

// Its backward as a direct loop: every (output, tap) pair adds w dy to dx and x dy to dw.
void naive_conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                           float* dx, float* dw) {
  std::fill(dx, dx + s.N * s.C * s.H * s.W, 0.0f);
  std::fill(dw, dw + s.O * s.C * s.kH * s.kW, 0.0f);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < s.Ho; ++i)
        for (int64_t j = 0; j < s.Wo; ++j) {
          const float g = dy[((n * s.O + o) * s.Ho + i) * s.Wo + j];
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t p = 0; p < s.kH; ++p)
              for (int64_t q = 0; q < s.kW; ++q) {
                const int64_t h = i * s.stride - s.pad + p, v = j * s.stride - s.pad + q;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                const int64_t xi = ((n * s.C + c) * s.H + h) * s.W + v;
                const int64_t wi = ((o * s.C + c) * s.kH + p) * s.kW + q;
                dx[xi] += w[wi] * g;
                dw[wi] += x[xi] * g;
              }
        }
}

Conv2dShape conv_shape(int64_t N, int64_t C, int64_t HW, int64_t O, int64_t k, int64_t pad) {
  const int64_t out = conv_output_size(HW, k, 1, pad);
  return Conv2dShape{N, C, HW, HW, O, k, k, 1, pad, out, out};
}

// The VGG-like layer: im2col + GEMM for the whole batch, the naive loops on a batch of 1 (they
// take seconds per image; GFLOP/s compare fairly across batch sizes).
void bench_conv(int64_t batch, int runs) {
  const Conv2dShape s = conv_shape(batch, 64, 56, 64, 3, 1);
  const Conv2dShape one = conv_shape(1, 64, 56, 64, 3, 1);
  const std::vector<float> x = random_floats(s.N * s.C * s.H * s.W, 3);
  const std::vector<float> w = random_floats(s.O * s.C * s.kH * s.kW, 4);
  const std::vector<float> b = random_floats(s.O, 5);
  const std::vector<float> dy = random_floats(s.N * s.O * s.Ho * s.Wo, 6);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
  // Forward: 2 FLOPs per multiply-accumulate; backward: dx and dw each cost as much again.
  auto forward_flops = [](const Conv2dShape& c) {
    return 2.0 * c.N * c.O * c.Ho * c.Wo * c.C * c.kH * c.kW;
  };
  const std::string shape = "x (" + std::to_string(batch) + ", 64, 56, 56) w (64, 64, 3, 3)";
  const std::string shape_one = "x (1, 64, 56, 56) w (64, 64, 3, 3)";

  const double fwd = median_seconds(
      [&] { cpu::conv2d_forward<float>(s, x.data(), w.data(), b.data(), y.data()); }, runs, 1);
  print_row("conv2d forward (automatic)", shape, fwd, forward_flops(s), runs);
  const double bwd = median_seconds(
      [&] {
        cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                    db.data());
      },
      runs, 1);
  print_row("conv2d backward dx+dw+db", shape, bwd, 2 * forward_flops(s), runs);
  const double bwd_w = median_seconds(
      [&] {
        cpu::conv2d_backward<float>(s, x.data(), w.data(), dy.data(), nullptr, dw.data(),
                                    db.data());
      },
      runs, 1);
  print_row("conv2d backward dw+db only", shape, bwd_w, forward_flops(s), runs);

  const double naive_fwd = median_seconds(
      [&] { naive_conv2d_forward(one, x.data(), w.data(), b.data(), y.data()); }, 1, 0);
  print_row("naive direct forward, batch 1", shape_one, naive_fwd, forward_flops(one), 1);
  const double naive_bwd = median_seconds(
      [&] { naive_conv2d_backward(one, x.data(), w.data(), dy.data(), dx.data(), dw.data()); }, 1,
      0);
  print_row("naive direct backward, batch 1", shape_one, naive_bwd, 2 * forward_flops(one), 1);
}

// ---- A SimpleCNN-sized training step, built from ops --------------------------------------------

// A parameter initialised U(-b, b), b = sqrt(6 / fan_in) (Kaiming-uniform), requiring a gradient.
Tensor parameter(const Shape& shape, int64_t fan_in, uint64_t seed) {
  const float bound = std::sqrt(6.0f / static_cast<float>(fan_in));
  std::vector<float> values = random_floats(shape_numel(shape), seed);
  for (float& v : values) v *= bound;
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad(true);
  return t;
}

// conv3x3 32 -> relu -> maxpool -> conv 64 -> relu -> maxpool -> conv 128 -> relu -> maxpool ->
// conv 256 -> relu -> global average pool -> linear 3 -> cross-entropy, on (16, 1, 128, 128).
void bench_training_step(int runs) {
  const int64_t batch = 16, size = 128;
  const int64_t widths[] = {1, 32, 64, 128, 256};
  std::vector<Tensor> conv_w, conv_b;
  for (int l = 0; l < 4; ++l) {
    conv_w.push_back(parameter({widths[l + 1], widths[l], 3, 3}, widths[l] * 9, 10 + l));
    conv_b.push_back(parameter({widths[l + 1]}, widths[l] * 9, 20 + l));
  }
  const Tensor fc_w = parameter({3, 256}, 256, 30), fc_b = parameter({3}, 256, 31);
  const Tensor images =
      Tensor::from_vector(random_floats(batch * size * size, 40), {batch, 1, size, size});
  std::vector<int64_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = i % 3;

  auto loss_of_batch = [&] {
    Tensor h = images;
    for (int l = 0; l < 4; ++l) {
      if (l > 0) h = max_pool2d(h, 2);
      h = relu(conv2d(h, conv_w[l], conv_b[l], 1, 1));
    }
    return cross_entropy(linear(global_avg_pool2d(h), fc_w, fc_b), labels);
  };
  auto training_step = [&] {
    for (Tensor& t : conv_w) t.zero_grad();
    for (Tensor& t : conv_b) t.zero_grad();
    loss_of_batch().backward();
  };
  double conv_flops = 0;  // forward, 2 FLOPs per multiply-accumulate
  for (int l = 0, hw = size; l < 4; ++l, hw /= 2)
    conv_flops += 2.0 * batch * widths[l + 1] * widths[l] * 9 * hw * hw;

  const std::string shape = "x (16, 1, 128, 128), 4 convs";
  const double forward = median_seconds([&] { loss_of_batch(); }, runs, 1);
  print_row("forward + loss (recording)", shape, forward, conv_flops, runs);
  const double step = median_seconds(training_step, runs, 1);
  // Forward + backward (dx and dw) is about 3x the forward FLOPs; the first conv's dx is
  // skipped, as the images need no gradient (1% of the total).
  print_row("training step: fwd + bwd", shape, step, 3 * conv_flops, runs);
  std::printf("  -> %.1f images/s; loss = cross_entropy; no optimiser update (0.39 M params)\n",
              batch / step);
}

}  // namespace

int main(int argc, char** argv) {
  // --peak-only: the FMA peak alone (tools/bench/bench_vs_torch.sh reports the training step as a
  // share of the peak measured in the same run).
  const bool peak_only = argc == 2 && std::string(argv[1]) == "--peak-only";
  if (argc > 1 && !peak_only) {
    std::fprintf(stderr, "usage: bench_cpu [--peak-only]\n");
    return 2;
  }
  std::printf(
      "bench_cpu: CPU kernels, float32, %d OpenMP threads (omp_get_max_threads), kernels %s\n",
      omp_get_max_threads(), cpu::cpu_kernels_description().c_str());
  std::printf("  times are medians after a warm-up run; GFLOP/s count 2 FLOPs per multiply-add\n");
  // Other processes on the same cores slow every OpenMP barrier down: say when there are any.
  double load = 0.0;
  if (getloadavg(&load, 1) == 1)
    std::printf("  load average %.2f before the run%s\n", load,
                load > 0.5 ? " (other work is running: figures may be low and noisy)" : "");
  std::printf("\n");

  const Peaks peaks = bench_peak();
  if (peak_only) return 0;
  std::printf("\nGEMM  C = A B, each micro-kernel variant this CPU runs\n");
  const cpu::CpuKernels chosen = cpu::active_cpu_kernels();
  for (cpu::CpuKernels v :
       {cpu::CpuKernels::avx512, cpu::CpuKernels::avx2, cpu::CpuKernels::portable}) {
    if (!cpu::set_cpu_kernels(v)) continue;
    bench_gemm("512^3", 512, 512, 512, 10, peaks);
    bench_gemm("1024^3", 1024, 1024, 1024, 5, peaks);
    // The GEMM of one image of the conv layer below: W (64, 576) x col (576, 3136).
    bench_gemm("conv-shaped", 64, 3136, 576, 10, peaks);
    // One of Winograd's 16 products in VGG16's block 4 (512 channels, a block of 96 tiles).
    bench_gemm("winograd-shaped", 512, 96, 512, 20, peaks);
  }
  cpu::set_cpu_kernels(chosen);
  bench_gemm_naive(512, 512, 512);

  std::printf("\nconv2d, VGG-like layer: 64 -> 64 channels, 56x56, 3x3, stride 1, padding 1\n");
  bench_conv(8, 5);

  std::printf("\nSimpleCNN-sized training step (batch 16, 128x128x1, 3 classes)\n");
  bench_training_step(5);
  return 0;
}
