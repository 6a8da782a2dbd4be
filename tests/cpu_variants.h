// The CPU kernel variants (kernels/cpu/cpu_kernels.h) a test can run on this machine, for the
// tests that force each in turn; says which ones this CPU could not run.
#pragma once

#include <doctest/doctest.h>

#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace busi::test {

inline std::vector<cpu::CpuKernels> runnable_variants() {
  std::vector<cpu::CpuKernels> out;
  for (cpu::CpuKernels v :
       {cpu::CpuKernels::portable, cpu::CpuKernels::avx2, cpu::CpuKernels::avx512}) {
    if (cpu::cpu_kernels_supported(v)) {
      out.push_back(v);
    } else {
      MESSAGE("this CPU cannot run the " << cpu::cpu_kernels_name(v) << " kernels: not tested");
    }
  }
  return out;
}

}  // namespace busi::test
