// Device names, CUDA availability and the --device chooser shared by every tool.
#include "engine/device.h"

#include <iostream>

#include "kernels/cuda/runtime/api.h"
#include "kernels/common/error.h"

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
  if (flag == "cpu") return Device::cpu();
  if (flag == "auto") {
    if (cuda_emulated()) {  // the emulator is for tests and kernel work: far slower than the CPU
      std::cerr << "device: using the CPU (this build's CUDA device is emulated; --device cuda "
                   "runs on it)\n";
      return Device::cpu();
    }
    const std::string reason = cuda_unavailable_reason();
    if (reason.empty()) return Device::cuda(0);
    std::cerr << "device: using the CPU (no usable GPU: " << reason << ")\n";
    return Device::cpu();
  }
  if (flag == "cuda" || flag == "cuda:0") {
    const std::string reason = cuda_unavailable_reason();
    BUSI_CHECK(reason.empty(), "--device ", flag,
               " was asked for, but CUDA is not usable: ", reason,
               ". Use --device cpu or --device auto.");
    return Device::cuda(0);
  }
  throw Error("--device: unknown value '" + flag + "' (expected auto, cpu or cuda)");
}

}  // namespace busi
