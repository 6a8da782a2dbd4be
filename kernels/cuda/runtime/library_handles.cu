// The cuBLAS and cuDNN handles of each device (context.h): created on first use, bound to the
// device's compute stream, never destroyed (see DeviceContext in context.cu). Real GPUs only: a
// -DBUSI_CUDA=EMULATE build leaves this file out.
#include <cublas_v2.h>
#include <cudnn.h>

#include <mutex>
#include <string>

#include "kernels/common/error.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"

namespace busi::cuda {

namespace {

// cuBLAS workspace handed over explicitly (NVIDIA's recommendation for Hopper is 32 MiB), so that
// its memory comes from, and is counted by, the caching allocator.
constexpr size_t kCublasWorkspaceBytes = 32u << 20;

struct LibraryHandles {
  std::once_flag cublas_once, cudnn_once;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

constexpr int kMaxDevices = 64;

LibraryHandles& handles_of(int device) {
  static LibraryHandles* handles = new LibraryHandles[kMaxDevices];
  BUSI_CHECK(device >= 0 && device < kMaxDevices, "CUDA device index ", device, " out of range");
  return handles[device];
}

}  // namespace

cublasHandle_t cublas_handle() {
  LibraryHandles& h = handles_of(current_device());
  std::call_once(h.cublas_once, [&] {
    cublasHandle_t handle = nullptr;
    CUBLAS_CHECK(cublasCreate(&handle));
    CUBLAS_CHECK(cublasSetStream(handle, stream()));
    CUBLAS_CHECK(
        cublasSetWorkspace(handle, device_malloc(kCublasWorkspaceBytes), kCublasWorkspaceBytes));
    h.cublas = handle;
  });
  return h.cublas;
}

cudnnHandle_t cudnn_handle() {
  LibraryHandles& h = handles_of(current_device());
  std::call_once(h.cudnn_once, [&] {
    cudnnHandle_t handle = nullptr;
    CUDNN_CHECK(cudnnCreate(&handle));
    CUDNN_CHECK(cudnnSetStream(handle, stream()));
    h.cudnn = handle;
  });
  return h.cudnn;
}

void library_versions(Versions& v) {
  v.cudnn_built = CUDNN_VERSION;
  v.cudnn_loaded = static_cast<int>(cudnnGetVersion());
  int major = 0, minor = 0, patch = 0;
  CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &major));
  CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &minor));
  CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &patch));
  v.cublas_loaded = major * 10000 + minor * 100 + patch;
}

bool libraries_available() { return true; }

}  // namespace busi::cuda
