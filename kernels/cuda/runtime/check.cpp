// The error reporting behind CUDA_CHECK, CUBLAS_CHECK, CUDNN_CHECK and every kernel launch
// (check_launch, called by BUSI_LAUNCH).
#include "kernels/cuda/runtime/check.h"

#include <cstdio>
#include <cstring>

#include "kernels/common/error.h"
#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/context.h"

namespace busi::cuda {

namespace {

// __FILE__ is an absolute path in CMake builds: keep the part from the repository's top folders.
const char* short_path(const char* file) {
  for (const char* top : {"engine/", "kernels/", "tools/", "tests/"}) {
    const char* at = std::strstr(file, top);
    if (at) return at;
  }
  return file;
}

// "<string> (<name>)", and on the emulated device, for a failed kernel, the emulator's account
// of what went wrong (the kernel, block, threads and source lines).
std::string describe(cudaError_t error) {
  std::string text = detail::concat(cudaGetErrorString(error), " (", cudaGetErrorName(error), ")");
#ifdef BUSI_CUDA_EMULATED
  const std::string fault = emu::fault_message();
  if (error == cudaErrorLaunchFailure && !fault.empty())
    text += " [emulated device: " + fault + "]";
#endif
  return text;
}

}  // namespace

void throw_call_error(const char* library, const std::string& what, const char* call,
                      const char* file, int line) {
  throw Error(
      detail::concat(library, " error: ", what, " in ", call, " at ", short_path(file), ":", line));
}

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  throw_call_error("CUDA", describe(error), call, file, line);
}

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess)
    throw_call_error("CUDA", describe(launch) + " launching kernel " + kernel, "<<<...>>>", file,
                     line);
  if (!sync_after_launch()) return;
  const cudaError_t run = cudaStreamSynchronize(stream());
  if (run != cudaSuccess)
    throw_call_error("CUDA",
                     describe(run) + " while running kernel " + kernel + " (BUSI_CUDA_SYNC=1)",
                     "cudaStreamSynchronize", file, line);
}

void warn_if_error(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaSuccess) return;
  std::fprintf(stderr, "busi: CUDA error: %s in %s at %s:%d (ignored in a destructor)\n",
               cudaGetErrorString(error), call, short_path(file), line);
}

}  // namespace busi::cuda
