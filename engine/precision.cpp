// The precision switch's setter, the hardware check behind --precision auto, and its log line
// (see precision.h).
#include "engine/precision.h"

#include "kernels/common/error.h"
#include <cstdio>

#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/peak_fma.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi {

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

Precision precision() { return gemm_precision(); }

void set_precision(Precision p) {
  precision_state().store(static_cast<int>(p), std::memory_order_relaxed);
}

PrecisionSupport bf16_support(const Device& device) {
  PrecisionSupport support;
  if (device.is_cpu()) {
    support.bf16_native = cpu::bf16_kernel_supported(cpu::Bf16Kernel::avx512bf16);
    support.reason = cpu::bf16_cpu_support();
    return support;
  }
#ifdef BUSI_WITH_CUDA
  if (cuda::emulated()) {
    support.reason =
        "emulated CUDA device: no bf16 tensor cores (bf16 products run as FP32 arithmetic on "
        "rounded operands)";
    return support;
  }
  const cuda::DeviceInfo info = cuda::device_info();
  std::string cc = std::to_string(info.cc_major);
  cc += ".";
  cc += std::to_string(info.cc_minor);
  support.bf16_native = info.cc_major >= 8;
  support.reason = "GPU compute capability ";
  support.reason += cc;
  support.reason +=
      support.bf16_native ? " >= 8.0: bf16 tensor cores" : " < 8.0: no bf16 tensor cores";
  return support;
#else
  support.reason = "no CUDA backend in this build";
  return support;
#endif
}

Bf16Speed cpu_bf16_speed() {
  static const Bf16Speed speed = [] {
    Bf16Speed s;
    if (!cpu::bf16_kernel_supported(cpu::Bf16Kernel::avx512bf16)) return s;
    const double fp32 = cpu::measure_peak_fma(cpu::FmaWidth::bits512, 1, 0.02);
    const double bf16 = cpu::measure_peak_dpbf16(1, 0.02);
    s.ratio = fp32 > 0 ? bf16 / fp32 : 0.0;
    s.faster = s.ratio > kBf16RatioToPay;
    return s;
  }();
  return speed;
}

PrecisionChoice resolve_precision(const std::string& flag, const Device& device) {
  PrecisionChoice choice;
  if (flag == "fp32") {
    choice.reason = "asked for fp32";
    return choice;
  }
  BUSI_CHECK(flag == "bf16" || flag == "auto", "--precision must be fp32, bf16 or auto (got '",
             flag, "')");
  const PrecisionSupport support = bf16_support(device);
  if (flag == "bf16") {
    choice.precision = Precision::BF16;
    choice.reason = "asked for bf16";
    if (!support.bf16_native) {
      choice.reason += "; not native here (";
      choice.reason += support.reason;
      choice.reason += ")";
    }
    return choice;
  }
  choice.precision = support.bf16_native ? Precision::BF16 : Precision::FP32;
  choice.reason = "auto: ";
  choice.reason += support.reason;
  if (support.bf16_native && device.is_cpu()) {
    const Bf16Speed speed = cpu_bf16_speed();
    char ratio[96];
    std::snprintf(ratio, sizeof ratio, "; vdpbf16ps measured at %.2fx the FP32 FMA rate",
                  speed.ratio);
    choice.reason += ratio;
    if (!speed.faster) {
      choice.precision = Precision::FP32;
      choice.reason += ", not enough for bf16 products to outrun the FP32 step: fp32";
    }
  }
  return choice;
}

std::string precision_description(const PrecisionChoice& choice) {
  std::string text = "precision ";
  text += precision_name(choice.precision);
  text += " (";
  text += choice.reason;
  text += ")";
  if (choice.precision == Precision::BF16)
    text += "; GEMM/conv operands bf16, FP32 accumulation, weights/optimiser/loss/BN FP32";
  return text;
}

}  // namespace busi
