// A synthetic image task for tests and the demo: grey images of one filled circle or one
// filled square (random position, size, brightness, background noise); label 0 = circle,
// 1 = square. Generated from a seed, so every machine sees the same images.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace busi::data {

struct ShapesBatch {
  Tensor images;                // (N, 1, size, size), values in about [0, 1]
  std::vector<int64_t> labels;  // 0 circle, 1 square
};

ShapesBatch make_shapes_dataset(int64_t count, int64_t size, uint64_t seed);

}  // namespace busi::data
