// Which vector units the CPU's fast float kernels use, chosen once at run time: the binary is
// built for a baseline x86-64 (or for this machine with BUSI_NATIVE=ON), and the AVX2 and AVX-512
// micro-kernels are compiled with function attributes, so one build runs on any x86-64 CPU and
// uses the widest units it has. BUSI_CPU_KERNELS=portable|avx2|avx512 forces a variant (tests,
// benchmarks); a forced variant the CPU cannot run is refused with a message on stderr and the
// best supported one is used instead.
#pragma once

#include <string>

namespace busi::cpu {

enum class CpuKernels { portable, avx2, avx512 };

// "portable", "avx2" (AVX2 + FMA) or "avx512" (AVX-512 F).
const char* cpu_kernels_name(CpuKernels variant);

// Whether this CPU (and this compiler) can run `variant`; portable always can.
bool cpu_kernels_supported(CpuKernels variant);

// The variant the float kernels use now: BUSI_CPU_KERNELS if set and supported, else the widest
// supported one. Decided on the first call.
CpuKernels active_cpu_kernels();

// Switches the variant (tests compare each against the reference). Returns false, and changes
// nothing, when the CPU cannot run it. Not thread-safe: call it between kernels, not during.
bool set_cpu_kernels(CpuKernels variant);

// One line for logs: "avx512 (AVX-512 F; also supported: avx2, portable)".
std::string cpu_kernels_description();

}  // namespace busi::cpu
