// gpu_preflight: the first thing a GPU run does (tools/bench/gpu_session.sh), in a few seconds: which
// GPU, driver and libraries this binary found, whether the loaded cuDNN fits the one it was
// built for, and the GPU self-check (engine/gpu_self_check.h: the main kernels on small inputs
// against the CPU, never from the cache here). Prints one line per check and a verdict line.
//
//   build/tools/gpu_preflight
// Exit status: 0 all good, 1 a check failed, 3 no usable GPU (the reason is printed).
#include <cstdio>
#include <string>

#include "engine/device.h"
#include "engine/gpu_self_check.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

using namespace busi;

namespace {

// 13000 -> "13.0" (CUDA numbers its versions major * 1000 + minor * 10).
std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

int run(int argc, char** argv) {
  tools::CommandLine cli("gpu_preflight",
                         "Checks the GPU, driver and libraries this build finds, and runs the GPU "
                         "self-check (the main kernels against the CPU).");
  if (!cli.parse(argc, argv)) return 0;  // --help
  const std::string reason = cuda_unavailable_reason();
  if (!reason.empty()) {
    std::printf("gpu_preflight: no usable GPU: %s\nverdict: SKIPPED (no GPU)\n", reason.c_str());
    return 3;
  }
  bool ok = true;
#ifdef BUSI_WITH_CUDA
  std::printf("device: %s\n", cuda::runtime_description().c_str());
  const cuda::Versions v = cuda::versions();
  std::printf(
      "versions: driver supports CUDA %s, runtime %s, cuDNN built %d loaded %d, cuBLAS %d\n",
      cuda_version(v.driver).c_str(), cuda_version(v.runtime).c_str(), v.cudnn_built,
      v.cudnn_loaded, v.cublas_loaded);
  if (v.driver < v.runtime) {
    std::printf("FAIL  the driver supports CUDA %s, older than this binary's runtime %s\n",
                cuda_version(v.driver).c_str(), cuda_version(v.runtime).c_str());
    ok = false;
  }
  if (const std::string problem = cuda::cudnn_version_problem(v); !problem.empty()) {
    std::printf("FAIL  %s\n", problem.c_str());
    ok = false;
  } else if (v.cudnn_built) {
    std::printf("ok    cuDNN %d serves a build for %d\n", v.cudnn_loaded, v.cudnn_built);
  }
#endif
  const SelfCheckResult check = run_self_check(gpu_self_check_cases(), Device::cuda(0));
  for (const std::string& line : check.lines) std::printf("%s\n", line.c_str());
  std::printf("self-check: %s in %.2f s\n", check.passed ? "passed" : "FAILED", check.seconds);
  ok = ok && check.passed;
  std::printf("verdict: %s\n", ok ? "OK" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return tools::run_tool_main("gpu_preflight", run, argc, argv); }
