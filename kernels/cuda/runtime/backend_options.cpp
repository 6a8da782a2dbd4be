// The backend switches of kernels/cuda/runtime/controls.h: each is read from its environment
// variable on first use (BUSI_TF32, BUSI_GEMM, BUSI_CONV, BUSI_DETERMINISTIC, BUSI_CUDA_SYNC,
// BUSI_CUDA_ALLOC) and
// can then be overridden by its setter. On the emulated device the GEMM and convolution default
// to the hand-written kernels, and cuBLAS or cuDNN cannot be chosen. Atomics, because a
// data-loader thread may ask while the main thread sets.
#include "kernels/cuda/runtime/backend_options.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/common/error.h"

namespace busi::cuda {

namespace {

// "0", "off", "false", "no" switch a flag off; "1", "on", "true", "yes" on; unset keeps the
// default; anything else is an error naming the variable.
bool env_flag(const char* name, bool default_value) {
  const char* raw = std::getenv(name);
  if (!raw || !*raw) return default_value;
  const std::string v = raw;
  if (v == "0" || v == "off" || v == "false" || v == "no") return false;
  if (v == "1" || v == "on" || v == "true" || v == "yes") return true;
  throw Error(std::string(name) + "='" + v + "': expected 0/1 (or on/off, true/false)");
}

// The value of `name` when it is one of the two accepted words (index 0 or 1), else throws.
int env_choice(const char* name, const char* first, const char* second) {
  const char* raw = std::getenv(name);
  if (!raw || !*raw || std::strcmp(raw, first) == 0) return 0;
  if (std::strcmp(raw, second) == 0) return 1;
  throw Error(std::string(name) + "='" + raw + "': expected " + first + " or " + second);
}

// On the emulated device, asking for cuBLAS or cuDNN is an error that says why.
void require_libraries([[maybe_unused]] GemmBackend gemm, [[maybe_unused]] ConvBackend conv) {
#ifdef BUSI_CUDA_EMULATED
  BUSI_CHECK(gemm != GemmBackend::Cublas,
             "GEMM backend cublas: cuBLAS cannot run on the emulated CUDA device "
             "(-DBUSI_CUDA=EMULATE); use handwritten");
  BUSI_CHECK(conv != ConvBackend::Cudnn,
             "convolution backend cudnn: cuDNN cannot run on the emulated CUDA device "
             "(-DBUSI_CUDA=EMULATE); use handwritten");
#endif
}

struct Options {
  std::atomic<bool> tf32{true};
  std::atomic<int> gemm{0};  // GemmBackend as int
  std::atomic<int> conv{0};  // ConvBackend as int
  std::atomic<bool> deterministic{false};
  std::atomic<bool> sync_after_launch{false};
  std::atomic<bool> exact_allocation{false};
};

// The options, with the environment read once. A misspelt value throws an Error; call_once then
// stays unfinished, so every later caller reads the environment again and gets the same Error.
Options& options() {
  static Options opts;
  static std::once_flag read_env;
  std::call_once(read_env, [] {
    opts.tf32 = env_flag("BUSI_TF32", true);
    opts.deterministic = env_flag("BUSI_DETERMINISTIC", false);
    opts.sync_after_launch = env_flag("BUSI_CUDA_SYNC", false);
    opts.gemm = env_choice("BUSI_GEMM", "cublas", "handwritten");
    opts.conv = env_choice("BUSI_CONV", "cudnn", "handwritten");
    opts.exact_allocation = env_choice("BUSI_CUDA_ALLOC", "cache", "exact") == 1;
#ifdef BUSI_CUDA_EMULATED
    // No cuBLAS or cuDNN on the emulated device: the hand-written kernels, unless asked otherwise.
    if (!std::getenv("BUSI_GEMM")) opts.gemm = static_cast<int>(GemmBackend::Handwritten);
    if (!std::getenv("BUSI_CONV")) opts.conv = static_cast<int>(ConvBackend::Handwritten);
    require_libraries(static_cast<GemmBackend>(opts.gemm.load()),
                      static_cast<ConvBackend>(opts.conv.load()));
#endif
  });
  return opts;
}

}  // namespace

void set_tf32(bool on) { options().tf32 = on; }
bool tf32_enabled() { return options().tf32; }

void set_gemm_backend(GemmBackend backend) {
  require_libraries(backend, conv_backend());
  options().gemm = static_cast<int>(backend);
}
GemmBackend gemm_backend() { return static_cast<GemmBackend>(options().gemm.load()); }

void set_conv_backend(ConvBackend backend) {
  require_libraries(gemm_backend(), backend);
  options().conv = static_cast<int>(backend);
}
ConvBackend conv_backend() { return static_cast<ConvBackend>(options().conv.load()); }

void set_deterministic(bool on) { options().deterministic = on; }
bool deterministic() { return options().deterministic; }

void set_sync_after_launch(bool on) { options().sync_after_launch = on; }
bool sync_after_launch() { return options().sync_after_launch; }

void set_exact_allocation(bool on) { options().exact_allocation = on; }
bool exact_allocation() { return options().exact_allocation; }

const char* gemm_backend_name(GemmBackend backend) {
  return backend == GemmBackend::Cublas ? "cublas" : "handwritten";
}
const char* conv_backend_name(ConvBackend backend) {
  return backend == ConvBackend::Cudnn ? "cudnn" : "handwritten";
}

}  // namespace busi::cuda
