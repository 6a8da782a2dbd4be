// The backend switches (TF32, GEMM and convolution backends, deterministic mode, sync after each
// launch) are declared with the rest of the public CUDA controls in kernels/cuda/runtime/controls.h and
// implemented in backend_options.cpp; this header is where kernel files include them from.
#pragma once

#include "kernels/cuda/runtime/controls.h"
