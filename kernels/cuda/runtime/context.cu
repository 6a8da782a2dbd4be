// The per-device context (compute stream, device properties), the device probe behind
// busi::cuda_available(), and the device description tools print. The cuBLAS and cuDNN handles
// are in library_handles.cu (real GPUs only).
#include "kernels/cuda/runtime/context.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/runtime/controls.h"
#include "kernels/common/error.h"

namespace busi::cuda {

namespace {

// Everything the engine keeps per device. Created on first use, never destroyed: the stream
// would otherwise be destroyed during static destruction, racing the CUDA runtime's own teardown.
struct DeviceContext {
  std::once_flag stream_once, props_once;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
};

constexpr int kMaxDevices = 64;

DeviceContext& context_of(int device) {
  static DeviceContext* contexts = new DeviceContext[kMaxDevices];
  BUSI_CHECK(device >= 0 && device < kMaxDevices, "CUDA device index ", device, " out of range");
  return contexts[device];
}

// A kernel that does nothing: asking for its attributes tells whether this binary holds code the
// GPU can run (sm_90 machine code, or PTX the driver can compile for it).
__global__ void probe_kernel() {}

struct Probe {
  bool ok = false;
  std::string reason;
};

Probe probe_device() {
  Probe p;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it, so later calls do not report it again
    if (e == cudaErrorNoDevice)
      p.reason = "no CUDA GPU found (cudaGetDeviceCount: no CUDA-capable device is detected)";
    else if (e == cudaErrorInsufficientDriver)
      p.reason = std::string("no usable NVIDIA driver (cudaGetDeviceCount: ") +
                 cudaGetErrorString(e) + ")";
    else
      p.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) + " (" +
                 cudaGetErrorName(e) + ")";
    return p;
  }
  if (count == 0) {
    p.reason = "no CUDA GPU found (cudaGetDeviceCount returned 0)";
    return p;
  }
  cudaFuncAttributes attributes;
  const cudaError_t image = cudaFuncGetAttributes(&attributes, probe_kernel);
  if (image != cudaSuccess) {
    cudaGetLastError();
    cudaDeviceProp props{};
    int device = 0;
    cudaGetDevice(&device);
    cudaGetDeviceProperties(&props, device);
    p.reason =
        detail::concat("this build's GPU code cannot run on ", props.name, " (compute capability ",
                       props.major, ".", props.minor, "): ", cudaGetErrorString(image),
                       "; rebuild with -DCMAKE_CUDA_ARCHITECTURES=", props.major, props.minor);
    return p;
  }
  p.ok = true;
  return p;
}

// FP32 lanes per SM: 64 on Volta, Turing and the A100 (sm_70..sm_80), 128 on GA10x, Ada and
// Hopper. Used only for the theoretical peak that the benchmark reports against.
int fp32_lanes_per_sm(int major, int minor) {
  if (major >= 9) return 128;
  if (major == 8) return minor == 0 ? 64 : 128;
  return 64;
}

}  // namespace

// ---- Availability (declared in kernels/cuda/runtime/api.h) -----------------------------------------------

bool device_available(std::string* reason) {
  static const Probe probe = probe_device();
  if (!probe.ok && reason) *reason = probe.reason;
  return probe.ok;
}

// ---- Context ------------------------------------------------------------------------------------

int current_device() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

cudaStream_t stream() {
  DeviceContext& ctx = context_of(current_device());
  // A blocking stream (cudaStreamDefault): it also waits for work anyone puts on the legacy
  // default stream, so a stray default-stream call cannot overtake the engine's kernels.
  std::call_once(ctx.stream_once,
                 [&] { CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamDefault)); });
  return ctx.stream;
}

const cudaDeviceProp& device_properties() {
  const int device = current_device();
  DeviceContext& ctx = context_of(device);
  std::call_once(ctx.props_once, [&] { CUDA_CHECK(cudaGetDeviceProperties(&ctx.props, device)); });
  return ctx.props;
}

int sm_count() { return device_properties().multiProcessorCount; }

bool emulated() {
#ifdef BUSI_CUDA_EMULATED
  return true;
#else
  return false;
#endif
}

// ---- Description --------------------------------------------------------------------------------

DeviceInfo device_info() {
  const cudaDeviceProp& p = device_properties();
  DeviceInfo info;
  info.index = current_device();
  info.name = p.name;
  info.cc_major = p.major;
  info.cc_minor = p.minor;
  info.sm_count = p.multiProcessorCount;
  info.total_bytes = p.totalGlobalMem;
  info.l2_bytes = static_cast<size_t>(p.l2CacheSize);
  int clock_khz = 0, memory_khz = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, info.index) != cudaSuccess)
    clock_khz = 0;
  if (cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, info.index) != cudaSuccess)
    memory_khz = 0;
  cudaGetLastError();  // an unsupported attribute is not an error worth keeping
  info.clock_ghz = clock_khz * 1e-6;
  info.fp32_peak_tflops =
      info.sm_count * fp32_lanes_per_sm(p.major, p.minor) * 2.0 * clock_khz * 1e3 * 1e-12;
  // Double data rate: two transfers per memory clock, bus width in bits.
  info.memory_peak_gbs = 2.0 * memory_khz * 1e3 * (p.memoryBusWidth / 8.0) * 1e-9;
  return info;
}

std::string runtime_description() {
  std::string reason;
  if (!device_available(&reason)) return "cuda: not available (" + reason + ")";
  const DeviceInfo d = device_info();
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << "cuda:" << d.index << " " << d.name << " (sm_" << d.cc_major << d.cc_minor
     << ", " << d.sm_count << " SMs, " << d.total_bytes / double(1u << 30) << " GiB), TF32 "
     << (tf32_enabled() ? "on" : "off") << ", GEMM " << gemm_backend_name(gemm_backend())
     << ", conv " << conv_backend_name(conv_backend()) << ", deterministic "
     << (deterministic() ? "on" : "off") << (exact_allocation() ? ", allocation exact" : "");
#ifdef BUSI_CUDA_EMULATED
  os << ", emulated on " << emu::worker_threads() << " host threads (thread-order seed "
     << emu::thread_order_seed() << ", no cuBLAS or cuDNN)";
#else
  os << ", cuDNN " << versions().cudnn_loaded;
#endif
  return os.str();
}

Versions versions() {
  Versions v;
  if (cudaDriverGetVersion(&v.driver) != cudaSuccess) v.driver = 0;
  if (cudaRuntimeGetVersion(&v.runtime) != cudaSuccess) v.runtime = 0;
  cudaGetLastError();  // a missing driver is reported by the numbers, not kept as an error
  library_versions(v);
  return v;
}

std::string cudnn_version_problem(const Versions& v) {
  if (v.cudnn_built == 0) return "";  // the emulated device: no cuDNN
  // cuDNN 9 numbers versions major * 10000 + minor * 100 + patch.
  const int built_major = v.cudnn_built / 10000, loaded_major = v.cudnn_loaded / 10000;
  if (loaded_major != built_major)
    return detail::concat("cuDNN ", v.cudnn_loaded, " is loaded but this build was compiled for ",
                          v.cudnn_built, ": a different major version (put a cuDNN ", built_major,
                          " library on LD_LIBRARY_PATH, or rebuild)");
  if (v.cudnn_loaded < v.cudnn_built)
    return detail::concat("cuDNN ", v.cudnn_loaded, " is loaded, older than the ", v.cudnn_built,
                          " this build was compiled for (rebuild against it, or load a newer one)");
  return "";
}

}  // namespace busi::cuda
