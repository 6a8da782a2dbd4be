// The doctest main shared by every test executable. A test executable whose GPU cases were all
// skipped for want of a GPU exits with status 77, which CTest reports as "Skipped" (see
// SKIP_RETURN_CODE in tests/CMakeLists.txt), so a run without a GPU says so in its summary. On
// the emulated device a failing run prints the thread-order seed that replays it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tests/gpu_skip.h"
#ifdef BUSI_CUDA_EMULATED
#include "kernels/cuda/emulator/runtime_api.h"
#endif

namespace busi::test {
int g_gpu_skipped_cases = 0;
}

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
#ifdef BUSI_CUDA_EMULATED
  // A failure on the emulated device may depend on the order its threads ran in: say how to
  // replay it.
  if (status != 0)
    std::printf("emulated CUDA device: thread-order seed %llu (rerun with BUSI_EMU_SEED=%llu)\n",
                static_cast<unsigned long long>(busi::emu::thread_order_seed()),
                static_cast<unsigned long long>(busi::emu::thread_order_seed()));
#endif
  if (context.shouldExit() || status != 0) return status;
  if (busi::test::g_gpu_skipped_cases > 0) {
    std::printf("skipped: %d GPU test case(s), no usable GPU on this machine\n",
                busi::test::g_gpu_skipped_cases);
    return busi::test::kSkipReturnCode;
  }
  return 0;
}
