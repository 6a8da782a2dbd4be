// The GPU self-check (gpu_self_check.h): the cases, the comparison with the CPU, the cache of
// verdicts, and the --device decision that consults them.
#include "engine/gpu_self_check.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/random.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi {

namespace fs = std::filesystem;

namespace {

// ---- Inputs and gradients ----------------------------------------------------------------------

// Values in [-1, 1) drawn on the CPU from `seed` (so both devices get the same ones), on `device`.
Tensor input(const Shape& shape, uint64_t seed, Device device) {
  Generator gen(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(gen.uniform(-1.0, 1.0));
  return Tensor::from_vector(v, shape, device);
}

// `out`, then the gradient of sum(out * m) for a fixed random m with respect to each input: one
// backward checks every output's gradient at once.
std::vector<Tensor> output_and_gradients(const Tensor& out, const std::vector<Tensor>& inputs) {
  const Tensor m = input(out.shape(), 99, out.device());
  sum(mul(out, m)).backward();
  std::vector<Tensor> result = {out.detach()};
  for (const Tensor& t : inputs) result.push_back(t.grad());
  return result;
}

std::vector<Tensor> with_grad(std::vector<Tensor> inputs) {
  for (Tensor& t : inputs) t.set_requires_grad(true);
  return inputs;
}

// Largest |got - want| over the largest |want| (normwise, as tests/cuda_parity.h); NaN anywhere
// gives NaN, which no tolerance accepts.
double normwise_error(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return NAN;
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return NAN;
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return diff / std::max(scale, 1e-30);
}

std::string scientific(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1e", v);
  return text;
}

}  // namespace

// ---- The cases ---------------------------------------------------------------------------------

std::vector<SelfCheckCase> gpu_self_check_cases() {
  std::vector<SelfCheckCase> cases;
  // Matrix products: cuBLAS on a GPU (the hand-written SGEMM with BUSI_GEMM=handwritten).
  cases.push_back({"matmul and linear, forward and backward", [](Device d) {
                     const auto in = with_grad({input({33, 48}, 1, d), input({48, 40}, 2, d),
                                                input({7, 40}, 3, d), input({7}, 4, d)});
                     const Tensor out = linear(matmul(in[0], in[1]), in[2], in[3]);  // (33, 7)
                     return output_and_gradients(out, in);
                   }});
  // Convolution: cuDNN on a GPU; with a bias, and with the fused ReLU at stride 2.
  cases.push_back({"conv2d, forward and backward", [](Device d) {
                     const auto in = with_grad({input({2, 3, 12, 11}, 5, d),
                                                input({6, 3, 3, 3}, 6, d), input({6}, 7, d)});
                     return output_and_gradients(conv2d(in[0], in[1], in[2], 1, 1), in);
                   }});
  cases.push_back({"conv2d_relu (stride 2), forward and backward", [](Device d) {
                     const auto in = with_grad(
                         {input({2, 4, 9, 9}, 8, d), input({5, 4, 3, 3}, 9, d), input({5}, 10, d)});
                     return output_and_gradients(conv2d_relu(in[0], in[1], in[2], 2, 1), in);
                   }});
  // Batch norm in training: the output, the gradients and the running statistics it updates.
  cases.push_back(
      {"batch_norm2d (training), forward and backward", [](Device d) {
         const auto in =
             with_grad({input({4, 6, 5, 5}, 11, d), input({6}, 12, d), input({6}, 13, d)});
         Tensor running_mean = Tensor::zeros({6}, d), running_var = Tensor::ones({6}, d);
         const Tensor out = batch_norm2d(in[0], in[1], in[2], running_mean, running_var, true);
         std::vector<Tensor> result = output_and_gradients(out, in);
         result.push_back(running_mean);
         result.push_back(running_var);
         return result;
       }});
  // Max pooling: values from a small set, so windows hold ties the first maximum must win.
  cases.push_back({"max_pool2d 2x2, forward and backward",
                   [](Device d) {
                     Generator gen(14);
                     std::vector<float> v(2 * 3 * 8 * 8);
                     for (float& x : v) x = static_cast<float>(gen.randint(5)) - 2.0f;
                     const auto in = with_grad({Tensor::from_vector(v, {2, 3, 8, 8}, d)});
                     return output_and_gradients(max_pool2d(in[0], 2), in);
                   },
                   0.0});
  // Softmax cross-entropy with class weights and label smoothing: the loss and dlogits.
  cases.push_back({"cross_entropy (weighted, smoothed), forward and backward", [](Device d) {
                     const auto in = with_grad({scale(input({10, 3}, 15, d), 4.0f).detach()});
                     const std::vector<int64_t> labels = {0, 1, 2, 2, 1, 0, 2, 2, 1, 0};
                     const Tensor loss = cross_entropy(in[0], labels, {0.6f, 1.2f, 2.0f}, 0.1f);
                     loss.backward();
                     return std::vector<Tensor>{loss.detach(), in[0].grad()};
                   }});
  // Two AdamW steps (the second with moments from the first) over a parameter of more than one
  // of the fused kernel's 16384-element chunks.
  cases.push_back({"AdamW step (fused optimiser)", [](Device d) {
                     Tensor param = input({20000}, 16, d).set_requires_grad(true);
                     param.set_grad(input({20000}, 17, d));
                     optim::ParamGroup group{"all", {{"p", param}}, 1e-2f, 0.01f};
                     auto adamw = optim::make_adamw({group});
                     adamw->step();
                     param.set_grad(input({20000}, 18, d));
                     adamw->step();
                     return std::vector<Tensor>{param.detach()};
                   }});
  return cases;
}

// ---- Running them ------------------------------------------------------------------------------

SelfCheckResult run_self_check(const std::vector<SelfCheckCase>& cases, Device gpu) {
  EnableGradGuard grad_on;  // the cases run backward passes
  SelfCheckResult result;
  const auto start = std::chrono::steady_clock::now();
#ifdef BUSI_WITH_CUDA
  const bool tf32 = cuda::tf32_enabled();
  cuda::set_tf32(false);
#endif
  for (const SelfCheckCase& c : cases) {
    const auto case_start = std::chrono::steady_clock::now();
    std::string problem;
    double worst = 0.0;
    try {
      const std::vector<Tensor> want = c.run(Device::cpu());
      const std::vector<Tensor> got = c.run(gpu);
      for (size_t i = 0; i < want.size() && problem.empty(); ++i) {
        const double error = normwise_error(got.at(i).to_vector(), want[i].to_vector());
        if (!(error <= c.tolerance))  // NaN fails too
          problem = detail::concat("result ", i, " differs from the CPU's by ", scientific(error),
                                   " (normwise; tolerance ", scientific(c.tolerance), ")");
        if (!std::isnan(error)) worst = std::max(worst, error);
      }
    } catch (const std::exception& e) {
      problem = std::string("failed: ") + e.what();
    }
    const double ms =
        1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - case_start).count();
    result.lines.push_back(detail::concat(
        problem.empty() ? "ok    " : "FAIL  ", c.name, ": max error ", scientific(worst), " (",
        static_cast<int>(ms + 0.5), " ms)", problem.empty() ? "" : ": " + problem));
    if (!problem.empty() && result.passed) {
      result.passed = false;
      result.failure = c.name + ": " + problem;
    }
  }
#ifdef BUSI_WITH_CUDA
  cuda::set_tf32(tf32);
#endif
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// ---- The cache ---------------------------------------------------------------------------------

namespace {

fs::path cache_file() {
  if (const char* dir = std::getenv("BUSI_CACHE_DIR"); dir && *dir)
    return fs::path(dir) / "gpu-self-check.tsv";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "busi-engine" / "gpu-self-check.tsv";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "busi-engine" / "gpu-self-check.tsv";
  return {};
}

// What the verdict depends on: the GPU, the driver and libraries, and this very executable (its
// path, size and modification time: a rebuild is a new build).
std::string cache_key() {
  std::ostringstream key;
#ifdef BUSI_WITH_CUDA
  const cuda::DeviceInfo info = cuda::device_info();
  const cuda::Versions v = cuda::versions();
  key << info.name << " " << info.total_bytes << " driver " << v.driver << " runtime " << v.runtime
      << " cudnn " << v.cudnn_loaded << " cublas " << v.cublas_loaded;
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    key << " exe " << exe.string() << " " << fs::file_size(exe, ec);
    if (!ec) key << " " << fs::last_write_time(exe, ec).time_since_epoch().count();
  }
  return key.str();
}

// Lines "key<TAB>pass|fail<TAB>failure".
bool read_cached(const fs::path& file, const std::string& key, SelfCheckResult& out) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find('\t'), b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos || line.compare(0, a, key) != 0 || a != key.size()) continue;
    out.passed = line.compare(a + 1, b - a - 1, "pass") == 0;
    out.failure = line.substr(b + 1);
    out.from_cache = true;
    return true;
  }
  return false;
}

// Appends the verdict; a cache that cannot be written costs a check next time, nothing more.
void write_cached(const fs::path& file, const std::string& key, const SelfCheckResult& r) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::ofstream out(file, std::ios::app);
  std::string failure = r.failure;
  std::replace(failure.begin(), failure.end(), '\n', ' ');
  std::replace(failure.begin(), failure.end(), '\t', ' ');
  if (out) out << key << '\t' << (r.passed ? "pass" : "fail") << '\t' << failure << '\n';
}

}  // namespace

SelfCheckResult cached_gpu_self_check() {
  if (const char* mode = std::getenv("BUSI_GPU_SELF_CHECK");
      mode && (std::string(mode) == "off" || std::string(mode) == "0")) {
    SelfCheckResult skipped;
    skipped.lines.push_back("skipped (BUSI_GPU_SELF_CHECK=off)");
    return skipped;
  }
  const fs::path file = cache_file();
  const std::string key = cache_key();
  SelfCheckResult result;
  if (!file.empty() && read_cached(file, key, result)) return result;
  result = run_self_check(gpu_self_check_cases(), Device::cuda(0));
  if (!file.empty()) write_cached(file, key, result);
  std::cerr << "device: GPU self-check " << (result.passed ? "passed" : "FAILED") << " ("
            << result.lines.size() << " kernels against the CPU, "
            << static_cast<int>(result.seconds * 1000.0 + 0.5) << " ms"
            << (file.empty() ? "" : "; verdict cached in " + file.string()) << ")\n";
  return result;
}

// ---- The decision ------------------------------------------------------------------------------

Device decide_device(const std::string& flag, const std::string& unusable_reason,
                     const std::function<SelfCheckResult()>& self_check) {
  if (flag == "cpu") return Device::cpu();
  if (flag == "auto") {
    if (!unusable_reason.empty()) {
      std::cerr << "device: using the CPU (no usable GPU: " << unusable_reason << ")\n";
      return Device::cpu();
    }
    const SelfCheckResult check = self_check();
    if (check.passed) return Device::cuda(0);
    std::cerr << "device: WARNING: using the CPU: the GPU gave wrong results in its self-check ("
              << check.failure << "). --device cuda would stop; BUSI_GPU_SELF_CHECK=off skips "
              << "the check.\n";
    return Device::cpu();
  }
  if (flag == "cuda" || flag == "cuda:0") {
    BUSI_CHECK(unusable_reason.empty(), "--device ", flag,
               " was asked for, but CUDA is not usable: ", unusable_reason,
               ". Use --device cpu or --device auto.");
    const SelfCheckResult check = self_check();
    BUSI_CHECK(check.passed, "--device ", flag,
               ": the GPU gave wrong results in its self-check against the CPU (", check.failure,
               "). Use --device cpu; BUSI_GPU_SELF_CHECK=off skips the check at your own risk.");
    return Device::cuda(0);
  }
  throw Error("--device: unknown value '" + flag + "' (expected auto, cpu or cuda)");
}

}  // namespace busi
