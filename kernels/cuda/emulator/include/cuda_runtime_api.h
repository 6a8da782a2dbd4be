// <cuda_runtime_api.h> in a -DBUSI_CUDA=EMULATE build: the host API of the emulated device
// (kernels/cuda/emulator/runtime_api.h), found first on the include path instead of NVIDIA's.
#pragma once

#include "kernels/cuda/emulator/runtime_api.h"
