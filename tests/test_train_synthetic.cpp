// End to end: a small CNN (conv, batch norm, ReLU, pooling, dropout, linear, cross-entropy,
// SGD with momentum) learns to tell circles from squares, on the CPU (tests/shapes_training.h).
#include <doctest/doctest.h>

#include "tests/shapes_training.h"

using namespace busi;

TEST_CASE("a small CNN learns circles vs squares to >= 95% test accuracy") {
  const test::ShapesRun run = test::train_shapes_cnn();
  for (size_t epoch = 0; epoch < run.epoch_losses.size(); ++epoch)
    MESSAGE("epoch " << epoch << " loss " << run.epoch_losses[epoch]);
  MESSAGE("test accuracy " << run.accuracy);
  CHECK(run.epoch_losses.back() < 0.5 * run.epoch_losses.front());
  CHECK(run.accuracy >= 0.95);
}
