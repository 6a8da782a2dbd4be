// The GPU self-check (engine/gpu_self_check.h): the decision --device makes from its verdict (on
// every machine), and, on a CUDA device (the emulated one in CI), that the real kernels pass, that
// a planted wrong kernel or a failing one is caught and named and makes --device auto fall back
// to the CPU, and that the verdict is cached.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/gpu_self_check.h"
#include "engine/ops.h"
#include "kernels/common/error.h"
#include "tests/gpu_skip.h"

using namespace busi;
namespace fs = std::filesystem;

namespace {

SelfCheckResult failed(const std::string& why) {
  SelfCheckResult r;
  r.passed = false;
  r.failure = why;
  return r;
}

// The self-check's cases with one made wrong on the GPU: its first result is off by 1e-3 there,
// as a kernel with a wrong index or a lost term would be (by far more, usually).
std::vector<SelfCheckCase> with_planted_error(const std::string& name_part) {
  std::vector<SelfCheckCase> cases = gpu_self_check_cases();
  for (SelfCheckCase& c : cases) {
    if (c.name.find(name_part) == std::string::npos) continue;
    c.run = [run = c.run](Device d) {
      std::vector<Tensor> out = run(d);
      if (d.is_cuda()) out[0] = add_scalar(out[0], 1e-3f);
      return out;
    };
  }
  return cases;
}

}  // namespace

TEST_CASE("decide_device: a failed self-check falls back with auto and stops with cuda") {
  const auto passing = [] { return SelfCheckResult{}; };
  const auto failing = [] { return failed("conv2d, forward and backward: result 0 differs"); };
  int checks = 0;
  const auto counted = [&] {
    ++checks;
    return SelfCheckResult{};
  };
  CHECK(decide_device("auto", "", passing) == Device::cuda(0));
  CHECK(decide_device("cuda", "", passing) == Device::cuda(0));
  CHECK(decide_device("auto", "", failing) == Device::cpu());
  CHECK_THROWS_WITH_AS(
      decide_device("cuda", "", failing),
      doctest::Contains("self-check against the CPU (conv2d, forward and backward"), Error);
  // No GPU: auto says why and takes the CPU, cuda is an error; the check is not run.
  CHECK(decide_device("auto", "no CUDA GPU found", counted) == Device::cpu());
  CHECK_THROWS_WITH_AS(decide_device("cuda:0", "no CUDA GPU found", counted),
                       doctest::Contains("CUDA is not usable: no CUDA GPU found"), Error);
  CHECK(decide_device("cpu", "", counted) == Device::cpu());
  CHECK(checks == 0);
  CHECK_THROWS_WITH_AS(decide_device("gpu", "", passing),
                       doctest::Contains("--device: unknown value 'gpu'"), Error);
}

TEST_CASE("gpu self-check: the engine's kernels pass it on this device") {
  BUSI_REQUIRE_GPU();
  const std::vector<SelfCheckCase> cases = gpu_self_check_cases();
  NoGradGuard caller_without_grad;  // as a tool might be when it asks for a device
  const SelfCheckResult r = run_self_check(cases, Device::cuda(0));
  for (const std::string& line : r.lines) MESSAGE(line);
  CHECK(r.passed);
  CHECK(r.failure.empty());
  CHECK(r.lines.size() == cases.size());
  CHECK(cases.size() >= 7);
}

TEST_CASE("gpu self-check: a planted wrong kernel is caught, named, and --device auto falls back") {
  BUSI_REQUIRE_GPU();
  const SelfCheckResult r = run_self_check(with_planted_error("conv2d_relu"), Device::cuda(0));
  CHECK_FALSE(r.passed);
  CHECK(r.failure.find("conv2d_relu (stride 2), forward and backward: result 0 differs") == 0);
  int failed_lines = 0;
  for (const std::string& line : r.lines) failed_lines += line.rfind("FAIL", 0) == 0;
  CHECK(failed_lines == 1);  // the other kernels still pass
  CHECK(decide_device("auto", "", [&] { return r; }) == Device::cpu());
  CHECK_THROWS_WITH_AS(decide_device("cuda", "", [&] { return r; }),
                       doctest::Contains("conv2d_relu"), Error);

  // A kernel that fails outright (an error from the device) is a failure too, named.
  std::vector<SelfCheckCase> throwing = gpu_self_check_cases();
  throwing[0].run = [](Device d) -> std::vector<Tensor> {
    if (d.is_cuda()) throw Error("CUDA error: an illegal memory access was encountered");
    return {Tensor::zeros({1})};
  };
  const SelfCheckResult t = run_self_check(throwing, Device::cuda(0));
  CHECK_FALSE(t.passed);
  CHECK(t.failure.find("matmul and linear, forward and backward: failed: CUDA error") == 0);
}

TEST_CASE("gpu self-check: the verdict is cached per GPU, driver and executable") {
  BUSI_REQUIRE_GPU();
  const fs::path dir = fs::temp_directory_path() / ("busi_self_check_" + std::to_string(getpid()));
  fs::remove_all(dir);
  setenv("BUSI_CACHE_DIR", dir.c_str(), 1);
  unsetenv("BUSI_GPU_SELF_CHECK");
  const SelfCheckResult first = cached_gpu_self_check();
  CHECK(first.passed);
  CHECK_FALSE(first.from_cache);
  REQUIRE(fs::exists(dir / "gpu-self-check.tsv"));
  const SelfCheckResult second = cached_gpu_self_check();
  CHECK(second.passed);
  CHECK(second.from_cache);
  // A failing verdict in the cache is believed too (until the GPU, driver or build changes).
  {
    std::ifstream in(dir / "gpu-self-check.tsv");
    std::string line;
    std::getline(in, line);
    const std::string key = line.substr(0, line.find('\t'));
    std::ofstream out(dir / "gpu-self-check.tsv", std::ios::trunc);
    out << key << "\tfail\tmatmul: result 0 differs\n";
  }
  const SelfCheckResult third = cached_gpu_self_check();
  CHECK_FALSE(third.passed);
  CHECK(third.failure == "matmul: result 0 differs");
  setenv("BUSI_GPU_SELF_CHECK", "off", 1);
  CHECK(cached_gpu_self_check().passed);
  unsetenv("BUSI_GPU_SELF_CHECK");
  unsetenv("BUSI_CACHE_DIR");
  fs::remove_all(dir);
}
