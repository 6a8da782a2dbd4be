// Errors on the emulated device: each host thread's last error, the sticky fault a failed kernel
// leaves (every later call returns it, as on a GPU, until cudaDeviceReset), the error strings,
// and the settings read from the environment (thread-order seed, worker threads).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels/cuda/emulator/device_state.h"
#include "kernels/cuda/emulator/runtime_api.h"

namespace busi::emu {

namespace {

thread_local cudaError_t last_error = cudaSuccess;

struct Fault {
  std::mutex mutex;
  bool set = false;
  std::string message;
};
Fault& fault() {
  static Fault* f = new Fault;  // never destroyed: tensors freed after main() may still ask
  return *f;
}

}  // namespace

namespace detail {

cudaError_t set_error(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

cudaError_t sticky_error() {
  Fault& f = fault();
  std::lock_guard<std::mutex> lock(f.mutex);
  return f.set ? cudaErrorLaunchFailure : cudaSuccess;
}

void record_fault(const std::string& message) {
  Fault& f = fault();
  std::lock_guard<std::mutex> lock(f.mutex);
  if (f.set) return;  // the first fault is the one to explain
  f.set = true;
  f.message = message;
  std::fprintf(stderr, "busi: emulated CUDA device: kernel fault: %s\n", message.c_str());
}

void clear_fault() {
  Fault& f = fault();
  std::lock_guard<std::mutex> lock(f.mutex);
  f.set = false;
  f.message.clear();
}

}  // namespace detail

const char* fault_message() {
  Fault& f = fault();
  std::lock_guard<std::mutex> lock(f.mutex);
  return f.message.c_str();  // stable until the next fault or reset
}

uint64_t thread_order_seed() {
  static const uint64_t seed = [] {
    const char* text = std::getenv("BUSI_EMU_SEED");
    if (!text || !*text) return uint64_t(1);
    if (std::string(text) == "random") {
      const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      const uint64_t s = static_cast<uint64_t>(now) % 1000000007u;
      std::fprintf(stderr, "busi: emulated CUDA device: thread-order seed %llu (BUSI_EMU_SEED)\n",
                   static_cast<unsigned long long>(s));
      return s;
    }
    char* end = nullptr;
    const unsigned long long s = std::strtoull(text, &end, 10);
    if (*end != '\0') {
      std::fprintf(stderr, "busi: BUSI_EMU_SEED='%s': expected a number or 'random'\n", text);
      std::exit(2);
    }
    return uint64_t(s);
  }();
  return seed;
}

int worker_threads() {
  static const int workers = [] {
    const char* text = std::getenv("BUSI_EMU_THREADS");
    const int n = text && *text ? std::atoi(text) : omp_get_max_threads();
    return n >= 1 ? n : 1;
  }();
  return workers;
}

}  // namespace busi::emu

cudaError_t cudaGetLastError() {
  const cudaError_t sticky = busi::emu::detail::sticky_error();
  if (sticky != cudaSuccess) return sticky;
  const cudaError_t e = busi::emu::last_error;
  busi::emu::last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() {
  const cudaError_t sticky = busi::emu::detail::sticky_error();
  return sticky != cudaSuccess ? sticky : busi::emu::last_error;
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInitializationError:
      return "initialization error";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorLaunchOutOfResources:
      return "too many resources requested for launch";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorNotSupported:
      return "operation not supported";
    case cudaErrorUnknown:
      return "unknown error";
  }
  return "unrecognized error code";
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError:
      return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver:
      return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorUnknown:
      return "cudaErrorUnknown";
  }
  return "cudaErrorUnrecognized";
}
