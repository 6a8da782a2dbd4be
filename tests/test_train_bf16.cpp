// End to end in BF16 mode: the small CNN of tests/test_train_synthetic.cpp learns circles vs
// squares with bf16 products, to the accuracy of the same run in FP32 (same seeds, same data)
// within a stated margin.
#include <doctest/doctest.h>

#include "engine/precision.h"
#include "tests/shapes_training.h"

using namespace busi;

TEST_CASE("the small CNN trains in BF16 mode to the FP32 accuracy within 2 points") {
  const test::ShapesRun fp32 = test::train_shapes_cnn();
  test::ShapesRun bf16;
  {
    ScopedPrecision mode(Precision::BF16);
    bf16 = test::train_shapes_cnn();
  }
  MESSAGE("fp32: loss " << fp32.epoch_losses.front() << " -> " << fp32.epoch_losses.back()
                        << ", test accuracy " << fp32.accuracy);
  MESSAGE("bf16: loss " << bf16.epoch_losses.front() << " -> " << bf16.epoch_losses.back()
                        << ", test accuracy " << bf16.accuracy);
  // The margin: 2 points of 400 test images is 8 images; one standard error of an accuracy near
  // 0.97 on 400 images is sqrt(0.97 * 0.03 / 400) = 0.85 points, so 2 points is about 2.3 of them.
  CHECK(bf16.accuracy >= 0.95);
  CHECK(bf16.accuracy >= fp32.accuracy - 0.02);
  CHECK(bf16.epoch_losses.back() < 0.5 * bf16.epoch_losses.front());
  // The two runs differ (bf16 products did run): identical losses would mean the switch is ignored.
  CHECK(bf16.epoch_losses.back() != fp32.epoch_losses.back());
}
