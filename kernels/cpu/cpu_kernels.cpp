// The run-time choice of the CPU kernels' vector variant (see cpu_kernels.h).
#include "kernels/cpu/cpu_kernels.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace busi::cpu {

namespace {

// -1: not decided yet. Otherwise the CpuKernels value. Atomic: the first kernels to ask may run
// on several threads at once (they all decide the same).
std::atomic<int> g_active{-1};

CpuKernels best_supported() {
  if (cpu_kernels_supported(CpuKernels::avx512)) return CpuKernels::avx512;
  if (cpu_kernels_supported(CpuKernels::avx2)) return CpuKernels::avx2;
  return CpuKernels::portable;
}

// BUSI_CPU_KERNELS, if set to a known and supported name; otherwise the widest variant.
CpuKernels from_environment() {
  const char* forced = std::getenv("BUSI_CPU_KERNELS");
  if (!forced || !*forced) return best_supported();
  for (CpuKernels v : {CpuKernels::portable, CpuKernels::avx2, CpuKernels::avx512}) {
    if (std::strcmp(forced, cpu_kernels_name(v)) != 0) continue;
    if (cpu_kernels_supported(v)) return v;
    std::fprintf(stderr, "busi: BUSI_CPU_KERNELS=%s: this CPU cannot run it; using %s\n", forced,
                 cpu_kernels_name(best_supported()));
    return best_supported();
  }
  std::fprintf(stderr, "busi: BUSI_CPU_KERNELS=%s is not one of portable, avx2, avx512; using %s\n",
               forced, cpu_kernels_name(best_supported()));
  return best_supported();
}

}  // namespace

const char* cpu_kernels_name(CpuKernels variant) {
  switch (variant) {
    case CpuKernels::avx512:
      return "avx512";
    case CpuKernels::avx2:
      return "avx2";
    case CpuKernels::portable:
      break;
  }
  return "portable";
}

bool cpu_kernels_supported(CpuKernels variant) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  switch (variant) {
    case CpuKernels::avx512:
      return __builtin_cpu_supports("avx512f");
    case CpuKernels::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuKernels::portable:
      return true;
  }
  return false;
#else
  return variant == CpuKernels::portable;
#endif
}

CpuKernels active_cpu_kernels() {
  int active = g_active.load(std::memory_order_relaxed);
  if (active < 0) {
    active = static_cast<int>(from_environment());
    g_active.store(active, std::memory_order_relaxed);
  }
  return static_cast<CpuKernels>(active);
}

bool set_cpu_kernels(CpuKernels variant) {
  if (!cpu_kernels_supported(variant)) return false;
  g_active.store(static_cast<int>(variant), std::memory_order_relaxed);
  return true;
}

std::string cpu_kernels_description() {
  std::string text = cpu_kernels_name(active_cpu_kernels());
  std::string others;
  for (CpuKernels v : {CpuKernels::avx512, CpuKernels::avx2, CpuKernels::portable})
    if (v != active_cpu_kernels() && cpu_kernels_supported(v))
      others += std::string(others.empty() ? "" : ", ") + cpu_kernels_name(v);
  return text + (others.empty() ? "" : " (also supported: " + others + ")");
}

}  // namespace busi::cpu
