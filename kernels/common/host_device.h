// BUSI_HOST_DEVICE marks a function that both the CPU kernels and the CUDA kernels call (the math
// of one formula in one place): __host__ __device__ under nvcc, nothing for the C++ compiler.
#pragma once

#if defined(__CUDACC__)
#define BUSI_HOST_DEVICE __host__ __device__
#else
#define BUSI_HOST_DEVICE
#endif
