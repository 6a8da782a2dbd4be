// What the emulated device says about itself: one device, described like an H100 (compute
// capability 9.0, 132 SMs, Hopper's launch and shared-memory limits) and named as emulated; its
// memory is capped by the host's (BUSI_EMU_MEMORY_MIB, default half the host's RAM, at most
// 80 GiB). Clock rates are not reported: a peak computed from them would describe a GPU that is
// not there. Also: per-kernel attributes (the opted-in shared memory) and cudaDeviceReset.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "kernels/cuda/emulator/device_state.h"
#include "kernels/cuda/emulator/runtime_api.h"

namespace busi::emu::detail {

namespace {

constexpr int kSharedPerBlock = 48 << 10;  // without opting in
constexpr int kSharedOptin = 227 << 10;    // Hopper: 227 KiB a block with opt-in

struct FunctionAttributes {
  std::mutex mutex;
  std::unordered_map<const void*, int> max_dynamic_shared;
};
FunctionAttributes& function_attributes() {
  static FunctionAttributes* a = new FunctionAttributes;
  return *a;
}

}  // namespace

size_t memory_capacity() {
  static const size_t capacity = [] {
    if (const char* mib = std::getenv("BUSI_EMU_MEMORY_MIB"))
      return static_cast<size_t>(std::strtoull(mib, nullptr, 10)) << 20;
    const size_t ram =
        static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return std::min(ram / 2, size_t(80) << 30);
  }();
  return capacity;
}

int max_dynamic_shared_bytes(const void* func) {
  FunctionAttributes& a = function_attributes();
  std::lock_guard<std::mutex> lock(a.mutex);
  const auto it = a.max_dynamic_shared.find(func);
  return it == a.max_dynamic_shared.end() ? kSharedPerBlock : it->second;
}

void reset_function_attributes() {
  FunctionAttributes& a = function_attributes();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.max_dynamic_shared.clear();
}

}  // namespace busi::emu::detail

namespace busi::emu {

cudaError_t func_get_attributes(cudaFuncAttributes* attributes, const void* func) {
  if (!attributes || !func) return detail::set_error(cudaErrorInvalidValue);
  *attributes = cudaFuncAttributes{};
  attributes->maxThreadsPerBlock = 1024;
  attributes->ptxVersion = attributes->binaryVersion = 90;
  attributes->maxDynamicSharedSizeBytes = detail::max_dynamic_shared_bytes(func);
  return cudaSuccess;
}

cudaError_t func_set_attribute(const void* func, cudaFuncAttribute attribute, int value) {
  if (!func || attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      value > detail::kSharedOptin)
    return detail::set_error(cudaErrorInvalidValue);
  detail::FunctionAttributes& a = detail::function_attributes();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.max_dynamic_shared[func] = value;
  return cudaSuccess;
}

}  // namespace busi::emu

using namespace busi::emu::detail;

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return set_error(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return set_error(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : set_error(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return set_error(cudaErrorInvalidValue);
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "busi-engine emulated CUDA device (H100-like, runs on the host CPU)",
               sizeof prop->name - 1);
  prop->totalGlobalMem = memory_capacity();
  prop->sharedMemPerBlock = kSharedPerBlock;
  prop->sharedMemPerBlockOptin = kSharedOptin;
  prop->sharedMemPerMultiprocessor = 228 << 10;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 132;
  prop->l2CacheSize = 50 << 20;
  prop->memoryBusWidth = 5120;
  prop->concurrentKernels = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return set_error(cudaErrorInvalidValue);
  cudaDeviceProp p;
  if (const cudaError_t e = cudaGetDeviceProperties(&p, device)) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = p.maxThreadsPerBlock;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(p.sharedMemPerBlock);
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *value = p.warpSize;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = p.multiProcessorCount;
      return cudaSuccess;
    case cudaDevAttrGlobalMemoryBusWidth:
      *value = p.memoryBusWidth;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = p.major;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = p.minor;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(p.sharedMemPerBlockOptin);
      return cudaSuccess;
    default:
      return set_error(cudaErrorNotSupported);  // clock rates: see the file comment
  }
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return set_error(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) { return cudaDriverGetVersion(version); }

cudaError_t cudaDeviceReset() {
  drop_pending();
  free_all_memory();
  reset_function_attributes();
  clear_fault();
  cudaGetLastError();
  return cudaSuccess;
}
