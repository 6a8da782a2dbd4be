// Skipping GPU test cases on a machine without a usable GPU: each case starts with
// BUSI_REQUIRE_GPU(); the first skip prints why, and the test main (test_main.cpp) then exits
// with kSkipReturnCode so that CTest lists the executable as skipped instead of passed.
#pragma once

#include <doctest/doctest.h>

#include "engine/device.h"

namespace busi::test {

inline constexpr int kSkipReturnCode = 77;  // CTest's SKIP_RETURN_CODE (tests/CMakeLists.txt)
extern int g_gpu_skipped_cases;             // defined in test_main.cpp

// True when this machine cannot run CUDA tests; the first call of a test executable prints one
// visible line saying why.
inline bool skip_without_gpu() {
  if (cuda_available()) return false;
  if (g_gpu_skipped_cases++ == 0)
    MESSAGE("skipped: no usable GPU (" << cuda_unavailable_reason() << ")");
  return true;
}

}  // namespace busi::test

#define BUSI_REQUIRE_GPU() \
  if (::busi::test::skip_without_gpu()) return
