// bench_kernels: times every CUDA kernel of the engine at the layer sizes of the two models
// (SimpleCNN and VGG16 at 224 x 224, batch 32) and prints a Markdown table for
// docs/benchmarks.md. Memory-bound kernels are reported in GB/s against the device-to-device copy
// bandwidth measured in the same run (the practical roofline); GEMMs and convolutions in TFLOP/s
// against the FP32 peak, with the hand-written SGEMM and convolution also as a ratio to cuBLAS
// and cuDNN (TF32 off on both sides: the hand-written kernels are plain FP32).
// Timing (tools/bench/cuda_timer.h): CUDA events on the compute stream, 3 warm-up runs, the median
// of --reps runs, and the L2 cache flushed (a memset of twice its size) before each run of a
// memory-bound kernel; the rows are printed by tools/bench/kernel_table.h.
// Not a test: without a GPU it prints one line and exits 0. --smoke runs every row once at tiny
// sizes, also on the emulated device (tools/bench/gpu_session.sh --dry-run: the plumbing, not the
// speed), leaving out the cuBLAS and cuDNN rows where those libraries cannot run.
//
//   build/tools/bench_kernels [--reps N] [--quick | --smoke] [--only SUBSTRING]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "kernels/common/error.h"

#ifdef BUSI_WITH_CUDA

#include <cuda_runtime_api.h>

#include "engine/tensor.h"
#include "kernels/common/optim_hyper.h"
#include "kernels/common/shapes.h"
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"
#include "kernels/cuda/softmax.h"
#include "tools/bench/cuda_timer.h"
#include "tools/bench/kernel_shapes.h"
#include "tools/bench/kernel_table.h"

namespace {

using namespace busi;
using busi::tools::ConvLayer;
using busi::tools::CudaTimer;
using busi::tools::GemmShape;
using busi::tools::KernelTable;
using busi::tools::Sizes;

struct Options {
  int reps = 10;
  bool quick = false;  // a few shapes only
  bool smoke = false;  // tiny shapes, one run each: checks that every row runs, times nothing
  std::string only;    // run only the rows whose name contains this
};

const Device kGpu = Device::cuda();

// ---- Data ---------------------------------------------------------------------------------------

// A device tensor of values in {-1, 1} (a Philox mask of ones, shifted): real data for the
// kernels whose speed depends on it (relu, max pooling) without a slow host-side fill.
Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::ones(shape, kGpu);
  cuda::dropout_forward(t.numel(), t.data(), 0.5f, seed, 0, t.data());  // {0, 2}
  cuda::add_scalar_forward(t.data(), -1.0f, t.data(), t.numel());       // {-1, 1}
  return t;
}

std::string shape_text(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

// ---- Benchmarks ---------------------------------------------------------------------------------

double measure_copy_bandwidth(CudaTimer& timer, int reps, size_t bytes) {
  Tensor a = Tensor::ones({int64_t(bytes / 4)}, kGpu),
         b = Tensor::empty({int64_t(bytes / 4)}, kGpu);
  const double ms = timer.median_ms(
      [&] {
        CUDA_CHECK(
            cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, cuda::stream()));
      },
      reps, true);
  return 2.0 * bytes / (ms * 1e-3) / 1e9;  // read + write
}

void bench_elementwise(KernelTable& r, const Sizes& z) {
  r.section("Element-wise, reductions, dropout (memory-bound)");
  const Shape big = z.big;
  const int64_t n = shape_numel(big);
  const double f = sizeof(float);
  Tensor x = random_tensor(big, 1), y = random_tensor(big, 2), out = Tensor::empty(big, kGpu);
  const std::string s = shape_text(big);
  r.memory("relu forward", s, 2 * n * f, [&] { cuda::relu_forward(x.data(), out.data(), n); });
  r.memory("relu backward", s, 3 * n * f,
           [&] { cuda::relu_backward(x.data(), y.data(), out.data(), n); });
  r.memory("scale", s, 2 * n * f, [&] { cuda::scale_forward(x.data(), 0.5f, out.data(), n); });
  BroadcastShape same;
  same.ndim = 1;
  same.numel = n;
  same.out[0] = n;
  same.a_stride[0] = same.b_stride[0] = 1;
  r.memory("add (same shape)", s, 3 * n * f,
           [&] { cuda::binary_forward(BinaryOp::Add, same, x.data(), y.data(), out.data()); });
  // (N, C, H, W) + (1, C, 1, 1): the per-channel bias.
  const int64_t C = big[1], HW = big[2] * big[3];
  BroadcastShape bias;
  bias.ndim = 3;
  bias.numel = n;
  bias.out[0] = big[0];
  bias.out[1] = C;
  bias.out[2] = HW;
  bias.a_stride[0] = C * HW;
  bias.a_stride[1] = HW;
  bias.a_stride[2] = 1;
  bias.b_stride[1] = 1;
  Tensor b = random_tensor({C}, 3), db = Tensor::empty({C}, kGpu);
  r.memory("add (per-channel bias)", s, 2 * n * f,
           [&] { cuda::binary_forward(BinaryOp::Add, bias, x.data(), b.data(), out.data()); });
  r.memory("add backward (bias gradient)", s, n * f, [&] {
    cuda::binary_backward(BinaryOp::Add, bias, x.data(), b.data(), y.data(), nullptr, n, db.data(),
                          C);
  });
  Tensor scalar = Tensor::empty({}, kGpu);
  r.memory("sum_all", s, n * f, [&] { cuda::sum_all(x.data(), scalar.data(), n); });
  r.memory("channel_sums (conv bias grad)", s, n * f,
           [&] { cuda::channel_sums(big[0], C, HW, x.data(), db.data()); });
  r.memory("dropout forward p=0.5", s, 2 * n * f,
           [&] { cuda::dropout_forward(n, x.data(), 0.5f, 7, 0, out.data()); });
  const int64_t head = z.head;
  r.memory("dropout forward (VGG head)", std::to_string(head), 2 * head * f,
           [&] { cuda::dropout_forward(head, x.data(), 0.5f, 7, 0, out.data()); });
}

void bench_pool_and_norm(KernelTable& r, const Sizes& z) {
  r.section("Pooling and batch norm (memory-bound)");
  const Shape big = z.big;
  const int64_t n = shape_numel(big), N = big[0], C = big[1], H = big[2], W = big[3];
  const double f = sizeof(float);
  Tensor x = random_tensor(big, 4), dx = Tensor::empty(big, kGpu);
  const std::string s = shape_text(big);
  const Pool2dShape p{N, C, H, W, 2, 2, 0, H / 2, W / 2};
  Tensor y = Tensor::empty({N, C, H / 2, W / 2}, kGpu), dy = random_tensor({N, C, H / 2, W / 2}, 5);
  Tensor argmax = Tensor::empty({N, C, H / 2, W / 2}, kGpu);  // int32 indices in float storage
  int32_t* arg = reinterpret_cast<int32_t*>(argmax.data());
  // Forward: read x, write y and the argmax (n / 4 each); backward: read the argmax and dy, write dx.
  r.memory("max_pool2d 2x2 forward", s, 1.5 * n * f,
           [&] { cuda::max_pool2d_forward(p, x.data(), y.data(), arg); });
  r.memory("max_pool2d 2x2 backward", s, 1.5 * n * f,
           [&] { cuda::max_pool2d_backward(p, arg, dy.data(), dx.data()); });
  r.memory("avg_pool2d 2x2 forward", s, 1.25 * n * f,
           [&] { cuda::avg_pool2d_forward(p, x.data(), y.data()); });
  r.memory("avg_pool2d 2x2 backward", s, 1.25 * n * f,
           [&] { cuda::avg_pool2d_backward(p, dy.data(), dx.data()); });
  // SimpleCNN's last features (32, 256, 28, 28) -> (32, 256).
  const Shape feat = z.features;
  const int64_t fN = feat[0], fC = feat[1], fHW = feat[2] * feat[3];
  Tensor fx = random_tensor(feat, 6), fy = Tensor::empty({fN, fC}, kGpu);
  const int64_t fn = shape_numel(feat);
  r.memory("global_avg_pool2d forward", shape_text(feat), fn * f,
           [&] { cuda::global_avg_pool2d_forward(fN, fC, fHW, fx.data(), fy.data()); });
  r.memory("global_avg_pool2d backward", shape_text(feat), fn * f,
           [&] { cuda::global_avg_pool2d_backward(fN, fC, fHW, fy.data(), fx.data()); });
  // Batch norm: the two-pass statistics read x twice, then x is read again and y written
  // (4 n floats); the backward reads x and dy twice and writes dx (5 n floats). These are the
  // bytes this implementation moves; a one-pass (Welford) forward would move 3 n.
  Tensor gamma = Tensor::ones({C}, kGpu), beta = Tensor::zeros({C}, kGpu);
  Tensor mean = Tensor::empty({C}, kGpu), invstd = Tensor::empty({C}, kGpu);
  Tensor rm = Tensor::zeros({C}, kGpu), rv = Tensor::ones({C}, kGpu);
  Tensor by = Tensor::empty(big, kGpu), bdy = random_tensor(big, 7);
  Tensor dgamma = Tensor::empty({C}, kGpu), dbeta = Tensor::empty({C}, kGpu);
  r.memory("batch_norm forward (train)", s, 4 * n * f, [&] {
    cuda::batch_norm_forward_train(N, C, H * W, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f,
                                   by.data(), mean.data(), invstd.data(), rm.data(), rv.data());
  });
  r.memory("batch_norm backward (train)", s, 5 * n * f, [&] {
    cuda::batch_norm_backward_train(N, C, H * W, x.data(), gamma.data(), mean.data(), invstd.data(),
                                    bdy.data(), dx.data(), dgamma.data(), dbeta.data());
  });
  r.memory("batch_norm forward (eval)", s, 2 * n * f, [&] {
    cuda::batch_norm_forward_eval(N, C, H * W, x.data(), gamma.data(), beta.data(), rm.data(),
                                  rv.data(), 1e-5f, by.data());
  });
}

void bench_softmax_and_optim(KernelTable& r, const Sizes& z) {
  r.section("Loss and optimiser");
  const int64_t N = 32, K = 3;
  Tensor logits = random_tensor({N, K}, 8), probs = Tensor::empty({N, K}, kGpu);
  Tensor loss = Tensor::empty({}, kGpu), dloss = Tensor::ones({}, kGpu);
  Tensor dlogits = Tensor::empty({N, K}, kGpu);
  std::vector<int64_t> host_labels(N);
  for (int64_t i = 0; i < N; ++i) host_labels[i] = i % K;
  Tensor label_storage = Tensor::empty({2 * N}, kGpu);  // N int64 labels in 2N floats of storage
  cuda::copy_host_to_device(label_storage.data(), host_labels.data(), N * sizeof(int64_t));
  const int64_t* labels_gpu = reinterpret_cast<const int64_t*>(label_storage.data());
  r.latency("cross_entropy forward (fused)", "32x3", [&] {
    cuda::cross_entropy_forward(N, K, logits.data(), labels_gpu, nullptr, 0.1f, probs.data(),
                                loss.data());
  });
  r.latency("cross_entropy backward", "32x3", [&] {
    cuda::cross_entropy_backward(N, K, probs.data(), labels_gpu, nullptr, 0.1f, dloss.data(),
                                 dlogits.data());
  });
  const std::vector<int64_t>& sizes = z.params;
  std::vector<Tensor> keep;
  std::vector<ParamSlot> slots;
  int64_t total = 0;
  for (int64_t size : sizes) {
    Tensor p = random_tensor({size}, 9), g = random_tensor({size}, 10);
    Tensor m = Tensor::zeros({size}, kGpu), v = Tensor::zeros({size}, kGpu);
    slots.push_back({p.data(), g.data(), m.data(), v.data(), size});
    keep.insert(keep.end(), {p, g, m, v});
    total += size;
  }
  const double f = sizeof(float);
  const std::string s = std::to_string(total) + " params";
  SgdHyper sgd;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 1e-4f;
  r.memory("sgd momentum (fused, 1 launch)", s, 5.0 * total * f,
           [&] { cuda::sgd_update_multi(slots, sgd, false); });
  AdamHyper adam;
  adam.decoupled = true;
  adam.weight_decay = 0.01f;
  r.memory("adamw (fused, 1 launch)", s, 7.0 * total * f,
           [&] { cuda::adam_update_multi(slots, adam); });
}

void bench_gemm(KernelTable& r, const Sizes& z) {
  r.section("GEMM (TF32 off unless stated; hand-written vs cuBLAS FP32)");
  const bool cublas = cuda::libraries_available();
  if (!cublas) std::printf("(cuBLAS rows not run: cuBLAS needs a real GPU)\n");
  for (const GemmShape& g : z.gemms) {
    const int64_t a_rows = g.ta ? g.K : g.M, a_cols = g.ta ? g.M : g.K;
    const int64_t b_rows = g.tb ? g.N : g.K, b_cols = g.tb ? g.K : g.N;
    Tensor A = random_tensor({a_rows, a_cols}, 11), B = random_tensor({b_rows, b_cols}, 12);
    Tensor C = Tensor::empty({g.M, g.N}, kGpu);
    const std::string shape = std::to_string(g.M) + "x" + std::to_string(g.N) + "x" +
                              std::to_string(g.K) + (g.ta ? " TA" : "") + (g.tb ? " TB" : "");
    const double flops = 2.0 * g.M * g.N * g.K;
    auto run = [&](bool handwritten) {
      return [&, handwritten] {
        (handwritten ? cuda::gemm_handwritten : cuda::gemm_cublas)(g.ta, g.tb, g.M, g.N, g.K, 1.0f,
                                                                   A.data(), a_cols, B.data(),
                                                                   b_cols, 0.0f, C.data(), g.N);
      };
    };
    cuda::set_tf32(false);
    const double cublas_ms =
        cublas ? r.compute(std::string("cuBLAS FP32: ") + g.what, shape, flops, run(false)) : 0.0;
    r.compute(std::string("hand-written: ") + g.what, shape, flops, run(true), cublas_ms, "cuBLAS");
    if (!cublas) continue;
    cuda::set_tf32(true);
    r.compute(std::string("cuBLAS TF32: ") + g.what, shape, flops, run(false));
    cuda::set_tf32(false);
  }
}

void bench_conv(KernelTable& r, const Sizes& z) {
  const int64_t N = z.batch;
  const std::string title = "Convolution, batch " + std::to_string(N) +
                            " (cuDNN FP32 / TF32 vs hand-written implicit GEMM)";
  r.section(title.c_str());
  const bool cudnn = cuda::libraries_available();
  if (!cudnn) std::printf("(cuDNN rows not run: cuDNN needs a real GPU)\n");
  for (const ConvLayer& l : z.layers) {
    const Conv2dShape s{N, l.C, l.size, l.size, l.O, 3, 3, 1, 1, l.size, l.size};
    if (!r.wanted(l.name)) continue;
    Tensor x = random_tensor({N, l.C, l.size, l.size}, 13), w = random_tensor({l.O, l.C, 3, 3}, 14);
    Tensor y = Tensor::empty({N, l.O, l.size, l.size}, kGpu), dy = random_tensor(y.shape(), 15);
    Tensor dx = Tensor::empty(x.shape(), kGpu), dw = Tensor::empty(w.shape(), kGpu);
    const double flops = 2.0 * N * l.O * l.size * l.size * l.C * 9;  // per direction
    const std::string shape =
        std::to_string(l.C) + "->" + std::to_string(l.O) + " @" + std::to_string(l.size);
    struct Direction {
      const char* name;
      std::function<void()> cudnn, handwritten;
    };
    const std::vector<Direction> directions = {
        {"fwd", [&] { cuda::conv2d_forward_cudnn(s, x.data(), w.data(), nullptr, y.data()); },
         [&] { cuda::conv2d_forward_handwritten(s, x.data(), w.data(), nullptr, y.data()); }},
        {"bwd data",
         [&] {
           cuda::conv2d_backward_cudnn(s, x.data(), w.data(), dy.data(), dx.data(), nullptr,
                                       nullptr);
         },
         [&] {
           cuda::conv2d_backward_handwritten(s, x.data(), w.data(), dy.data(), dx.data(), nullptr,
                                             nullptr);
         }},
        {"bwd filter",
         [&] {
           cuda::conv2d_backward_cudnn(s, x.data(), w.data(), dy.data(), nullptr, dw.data(),
                                       nullptr);
         },
         [&] {
           cuda::conv2d_backward_handwritten(s, x.data(), w.data(), dy.data(), nullptr, dw.data(),
                                             nullptr);
         }},
    };
    for (const Direction& d : directions) {
      const std::string base = std::string(l.name) + " " + d.name;
      cuda::set_tf32(false);
      const double cudnn_ms = cudnn ? r.compute("cuDNN FP32: " + base, shape, flops, d.cudnn) : 0.0;
      r.compute("hand-written: " + base, shape, flops, d.handwritten, cudnn_ms, "cuDNN");
      if (!cudnn) continue;
      cuda::set_tf32(true);
      r.compute("cuDNN TF32: " + base, shape, flops, d.cudnn);
      cuda::set_tf32(false);
    }
  }
}

int run(const Options& opts) {
  std::printf("bench_kernels: %s%s\n", cuda::runtime_description().c_str(),
              opts.smoke ? " (--smoke: tiny sizes, one run each; the times mean nothing)" : "");
  const cuda::DeviceInfo info = cuda::device_info();
  const Sizes z = tools::kernel_sizes(opts.quick, opts.smoke);
  CudaTimer timer;
  KernelTable report(timer, opts.reps, opts.only);
  const double copy_gbs = measure_copy_bandwidth(timer, opts.reps, z.copy_bytes);
  report.set_copy_bandwidth(copy_gbs);
  report.set_fp32_peak(info.fp32_peak_tflops);
  std::printf(
      "reference: device-to-device copy %.1f GB/s (read + write, %.0f MiB, median of %d); "
      "theoretical DRAM %.0f GB/s; FP32 peak %.1f TFLOP/s (%d SMs at %.2f GHz)\n",
      copy_gbs, z.copy_bytes / 1048576.0, opts.reps, info.memory_peak_gbs, info.fp32_peak_tflops,
      info.sm_count, info.clock_ghz);
  bench_elementwise(report, z);
  bench_pool_and_norm(report, z);
  bench_softmax_and_optim(report, z);
  bench_gemm(report, z);
  bench_conv(report, z);
  const cuda::AllocatorStats stats = cuda::allocator_stats();
  std::printf("\nallocator: peak %.1f MiB, %lld cudaMalloc calls\n", stats.peak_bytes / 1048576.0,
              static_cast<long long>(stats.num_cuda_mallocs));
  return 0;
}

}  // namespace

#endif  // BUSI_WITH_CUDA

int main(int argc, char** argv) {
#ifdef BUSI_WITH_CUDA
  Options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      opts.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--quick") {
      opts.quick = true;
    } else if (arg == "--smoke") {
      opts.smoke = true;
      opts.reps = 1;
    } else if (arg == "--only" && i + 1 < argc) {
      opts.only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_kernels [--reps N] [--quick | --smoke] [--only SUBSTRING]\n");
      return 2;
    }
  }
  std::string reason = busi::cuda_unavailable_reason();
  if (reason.empty() && busi::cuda_emulated() && !opts.smoke)
    reason =
        "the CUDA device of this build is emulated on the CPU: its timings describe no GPU "
        "(--smoke runs every row once, to check that they run)";
  if (!reason.empty()) {
    std::printf("bench_kernels: skipped, no usable GPU (%s)\n", reason.c_str());
    return 0;
  }
  try {
    return run(opts);
  } catch (const busi::Error& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 1;
  }
#else
  (void)argc;
  (void)argv;
  std::printf("bench_kernels: skipped, no usable GPU (%s)\n",
              busi::cuda_unavailable_reason().c_str());
  return 0;
#endif
}
