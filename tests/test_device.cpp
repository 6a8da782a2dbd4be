// The device chooser (--device auto|cpu|cuda): runs on every machine. Without a usable GPU,
// asking for CUDA is a clear error and auto falls back to the CPU.
#include <doctest/doctest.h>

#include <string>

#include "engine/device.h"
#include "engine/error.h"

using namespace busi;

TEST_CASE("choose_device: cpu always works, cuda without a usable GPU is a clear error") {
  CHECK(choose_device("cpu") == Device::cpu());
  CHECK_THROWS_WITH_AS(choose_device("gpu"), doctest::Contains("--device: unknown value 'gpu'"),
                       Error);
  if (cuda_available()) {
    CHECK(choose_device("cuda") == Device::cuda(0));
    CHECK(choose_device("cuda:0") == Device::cuda(0));
    CHECK(choose_device("auto") == Device::cuda(0));
    CHECK(cuda_unavailable_reason().empty());
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
