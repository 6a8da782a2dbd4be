// Device names, CUDA availability and the --device chooser shared by every tool.
#include "engine/device.h"

#include <functional>
#include <iostream>

#include "engine/gpu_self_check.h"
#include "kernels/common/error.h"
#include "kernels/cuda/runtime/api.h"

namespace busi {

std::string Device::str() const {
  if (is_cpu()) return "cpu";
  return "cuda:" + std::to_string(index) + (cuda_emulated() ? " (emulated)" : "");
}

bool cuda_compiled() {
#ifdef BUSI_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_emulated() {
#ifdef BUSI_CUDA_EMULATED
  return true;
#else
  return false;
#endif
}

std::string cuda_unavailable_reason() {
#ifdef BUSI_WITH_CUDA
  std::string reason;
  return cuda::device_available(&reason) ? std::string() : reason;
#else
  return "this build has no CUDA backend (configured with BUSI_CUDA=OFF or without nvcc)";
#endif
}

bool cuda_available() { return cuda_unavailable_reason().empty(); }

Device choose_device(const std::string& flag) {
  if (flag == "auto" && cuda_emulated()) {  // the emulator is for tests and kernel work: far slower
    std::cerr << "device: using the CPU (this build's CUDA device is emulated; --device cuda "
                 "runs on it)\n";
    return Device::cpu();
  }
  // A real GPU is checked against the CPU before it is trusted (gpu_self_check.h). The emulated
  // device runs the same kernels as the CPU machine's tests, which check it on every build; its
  // check would only cost time.
  const std::function<SelfCheckResult()> check =
      cuda_emulated() ? std::function<SelfCheckResult()>([] { return SelfCheckResult{}; })
                      : std::function<SelfCheckResult()>(cached_gpu_self_check);
  return decide_device(flag, flag == "cpu" ? std::string() : cuda_unavailable_reason(), check);
}

}  // namespace busi
