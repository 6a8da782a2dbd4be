// Where a tensor's memory lives (CPU or a CUDA GPU), and the questions every tool asks about it:
// was the CUDA backend compiled in, is a usable GPU present, and which device does --device pick.
#pragma once

#include <string>

namespace busi {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0", or "cuda:0 (emulated)" on the emulated device
};

// True when this build contains the CUDA backend (BUSI_WITH_CUDA), real or emulated.
bool cuda_compiled();
// True when the CUDA device is the emulator (-DBUSI_CUDA=EMULATE): the CUDA kernels run on the
// CPU, for tests and kernel development; --device auto then picks the CPU.
bool cuda_emulated();
// True when the CUDA backend is compiled in and a GPU with a working driver is present.
bool cuda_available();
// One line describing why CUDA is not available (empty when it is).
std::string cuda_unavailable_reason();

// Parses a --device flag: "auto" (CUDA when a real GPU is available and passes its self-check,
// engine/gpu_self_check.h; else the CPU, with one line on stderr saying why), "cpu", "cuda" or
// "cuda:0" (the engine drives one GPU). Asking for CUDA without a usable GPU, or with one that
// fails the self-check, throws a clear error.
Device choose_device(const std::string& flag);

}  // namespace busi
