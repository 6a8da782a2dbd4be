// Checked CUDA, cuBLAS and cuDNN calls: CUDA_CHECK(call), CUBLAS_CHECK(call), CUDNN_CHECK(call)
// throw busi::Error naming the failing call, its file and line; check_launch follows every kernel
// launch (BUSI_LAUNCH in launch.h; with BUSI_CUDA_SYNC=1 it synchronises to pin errors to it).
// Host code only. CUBLAS_CHECK / CUDNN_CHECK need cublas_v2.h / cudnn.h included by their user.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace busi::cuda {

// Throws busi::Error("<library> error: <what> in <call> at <file>:<line>").
[[noreturn]] void throw_call_error(const char* library, const std::string& what, const char* call,
                                   const char* file, int line);
[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);

// After a kernel launch: reports a launch error (bad configuration, no kernel image), and when
// sync_after_launch() is on, waits for the kernel and reports what went wrong while it ran.
void check_launch(const char* kernel, const char* file, int line);

// For destructors, which must not throw: prints the error to stderr instead.
void warn_if_error(cudaError_t error, const char* call, const char* file, int line);

}  // namespace busi::cuda

#define CUDA_CHECK(call)                                                            \
  do {                                                                              \
    const cudaError_t busi_cuda_status_ = (call);                                   \
    if (busi_cuda_status_ != cudaSuccess)                                           \
      ::busi::cuda::throw_cuda_error(busi_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                        \
  do {                                                                                            \
    const cublasStatus_t busi_cublas_status_ = (call);                                            \
    if (busi_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::busi::cuda::throw_call_error("cuBLAS", cublasGetStatusString(busi_cublas_status_), #call, \
                                     __FILE__, __LINE__);                                         \
  } while (0)

#define CUDNN_CHECK(call)                                                                     \
  do {                                                                                        \
    const cudnnStatus_t busi_cudnn_status_ = (call);                                          \
    if (busi_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                           \
      ::busi::cuda::throw_call_error("cuDNN", cudnnGetErrorString(busi_cudnn_status_), #call, \
                                     __FILE__, __LINE__);                                     \
  } while (0)

#define CUDA_WARN(call) ::busi::cuda::warn_if_error((call), #call, __FILE__, __LINE__)
