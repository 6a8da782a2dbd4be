// How the device-neutral ops reach the CUDA kernels: BUSI_CUDA_CALL(expr) runs expr in a CUDA
// build and throws a clear error in a CPU-only build (where no tensor can be on a GPU anyway).
#pragma once

#include "kernels/common/error.h"

#ifdef BUSI_WITH_CUDA
#define BUSI_CUDA_CALL(expr) expr
#else
#define BUSI_CUDA_CALL(expr) \
  throw ::busi::Error("a CUDA tensor reached an op in a build without the CUDA backend")
#endif
