// The device chooser (--device auto|cpu|cuda): runs on every machine. Without a usable GPU,
// asking for CUDA is a clear error and auto falls back to the CPU; with the emulated device,
// cuda runs on it and auto still picks the CPU.
#include <doctest/doctest.h>

#include <string>

#include "engine/device.h"
#include "kernels/common/error.h"

using namespace busi;

TEST_CASE("choose_device: cpu always works, cuda without a usable GPU is a clear error") {
  CHECK(choose_device("cpu") == Device::cpu());
  CHECK_THROWS_WITH_AS(choose_device("gpu"), doctest::Contains("--device: unknown value 'gpu'"),
                       Error);
  if (cuda_available()) {
    CHECK(choose_device("cuda") == Device::cuda(0));
    CHECK(choose_device("cuda:0") == Device::cuda(0));
    // The emulated device is chosen only when asked for: auto means the fastest real device.
    CHECK(choose_device("auto") == (cuda_emulated() ? Device::cpu() : Device::cuda(0)));
    CHECK(cuda_unavailable_reason().empty());
    CHECK(Device::cuda(0).str() == (cuda_emulated() ? "cuda:0 (emulated)" : "cuda:0"));
  } else {
    const std::string reason = cuda_unavailable_reason();
    CHECK(!reason.empty());
    CHECK_THROWS_WITH_AS(
        choose_device("cuda"),
        doctest::Contains(
            ("--device cuda was asked for, but CUDA is not usable: " + reason).c_str()),
        Error);
    CHECK_THROWS_WITH_AS(choose_device("cuda:0"), doctest::Contains("Use --device cpu"), Error);
    CHECK(choose_device("auto") == Device::cpu());
  }
}
