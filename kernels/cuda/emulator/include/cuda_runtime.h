// <cuda_runtime.h> in a -DBUSI_CUDA=EMULATE build: the emulated device's runtime API and device
// code (kernels/cuda/emulator/), found first on the include path instead of NVIDIA's header.
#pragma once

#include "kernels/cuda/emulator/device_code.h"
#include "kernels/cuda/emulator/launch.h"
#include "kernels/cuda/emulator/runtime_api.h"
