// The per-device CUDA context of the engine: one compute stream, one cuBLAS handle and one cuDNN
// handle per device (the handles on real GPUs only), each created lazily on first use and kept
// until the process ends. Every
// kernel, copy and library call of the engine goes to stream(), so they run in issue order and
// the caching allocator can hand a freed block to the next op without synchronising.
// Host code only; includes no library headers (the handle types are declared here the way
// cublas_v2.h and cudnn.h declare them).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

typedef struct cublasContext* cublasHandle_t;
typedef struct cudnnContext* cudnnHandle_t;

namespace busi::cuda {

int current_device();
// The compute stream of the current device.
cudaStream_t stream();
// Handles bound to stream(). Their math mode is set by each user before a call (TF32 switch).
cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();
// Fills the cuDNN and cuBLAS fields of `v` (library_handles.cu; zeros on the emulated device,
// emulated_libraries.cpp).
struct Versions;
void library_versions(Versions& v);
// Properties of the current device, queried once.
const cudaDeviceProp& device_properties();
int sm_count();

}  // namespace busi::cuda
