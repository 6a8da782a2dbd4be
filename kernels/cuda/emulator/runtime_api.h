// The host side of the CUDA runtime API as the emulated device provides it: the types, error
// codes and functions that busi-engine's CUDA code calls, with the names, values and behaviour of
// NVIDIA's cuda_runtime_api.h. In a -DBUSI_CUDA=EMULATE build, <cuda_runtime_api.h> and
// <cuda_runtime.h> resolve to kernels/cuda/emulator/include/, which includes this file, so the
// same CUDA sources compile with the host C++ compiler. Device memory is host memory; work queued
// on a stream runs, in issue order, when the host waits for it (see device_queue.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#ifndef BUSI_CUDA_EMULATED
#define BUSI_CUDA_EMULATED 1
#endif

// ---- Errors (the numeric values are NVIDIA's) ---------------------------------------------------

enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

// ---- Launch geometry ----------------------------------------------------------------------------

struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// ---- Handles, enums and property structs --------------------------------------------------------

typedef struct CUstream_st* cudaStream_t;  // nullptr: the legacy default stream
typedef struct CUevent_st* cudaEvent_t;
typedef void (*cudaHostFn_t)(void* user_data);

constexpr unsigned int cudaEventDefault = 0x0;
constexpr unsigned int cudaEventDisableTiming = 0x2;
constexpr unsigned int cudaStreamDefault = 0x0;
constexpr unsigned int cudaStreamNonBlocking = 0x1;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

// The fields of NVIDIA's cudaDeviceProp that code reads (same names and types).
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;       // static + dynamic without opting in: 48 KiB
  size_t sharedMemPerBlockOptin;  // with cudaFuncAttributeMaxDynamicSharedMemorySize
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int maxThreadsPerMultiProcessor;
  int major, minor;  // compute capability
  int multiProcessorCount;
  int l2CacheSize;
  int memoryBusWidth;
  int concurrentKernels;
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;  // static shared memory: unknown on the emulated device (0)
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion;
  int binaryVersion;
  int maxDynamicSharedSizeBytes;
};

// ---- Functions ----------------------------------------------------------------------------------

cudaError_t cudaGetLastError();  // returns and clears the last error (a kernel fault sticks)
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();  // drops queued work and all memory; clears a kernel fault
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);  // waits for the device first, as the real one does
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
// Pinned (page-locked) host memory: a copy from it is read when the device runs the copy, not
// when cudaMemcpyAsync is called, as a GPU's DMA engine reads it.
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);  // waits for the device first, as the real one does
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user_data);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);  // cudaErrorNotReady until the queue reaches it
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

namespace busi::emu {
cudaError_t func_get_attributes(cudaFuncAttributes* attributes, const void* func);
cudaError_t func_set_attribute(const void* func, cudaFuncAttribute attribute, int value);
}  // namespace busi::emu

// Templates, as in NVIDIA's cuda_runtime.h: any kernel (function pointer) is accepted.
template <class T>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, T* func) {
  return busi::emu::func_get_attributes(attributes, reinterpret_cast<const void*>(func));
}
template <class T>
cudaError_t cudaFuncSetAttribute(T* func, cudaFuncAttribute attribute, int value) {
  return busi::emu::func_set_attribute(reinterpret_cast<const void*>(func), attribute, value);
}
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}

// ---- What only the emulated device has ---------------------------------------------------------

namespace busi::emu {

// The description of the last kernel fault (a barrier or warp function misused, a deadlock),
// naming the kernel, its launch site, the block and threads, and the thread-order seed; empty
// when the device has not faulted. The fault itself is returned as cudaErrorLaunchFailure.
const char* fault_message();
// The seed of the thread order (BUSI_EMU_SEED; 1 when unset, "random" for one from the clock).
uint64_t thread_order_seed();
// Host threads that run blocks (BUSI_EMU_THREADS; default: the OpenMP thread count).
int worker_threads();

}  // namespace busi::emu
