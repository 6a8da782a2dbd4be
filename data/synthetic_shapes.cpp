// Circles and squares drawn from a seed (see synthetic_shapes.h).
#include "data/synthetic_shapes.h"

#include <algorithm>
#include <cmath>

#include "engine/random.h"

namespace busi::data {

ShapesBatch make_shapes_dataset(int64_t count, int64_t size, uint64_t seed) {
  BUSI_CHECK(count > 0 && size >= 12, "make_shapes_dataset: need count > 0 and size >= 12");
  Generator gen(seed);
  ShapesBatch out;
  out.images = Tensor::empty({count, 1, size, size});
  float* pixels = out.images.data();
  for (int64_t n = 0; n < count; ++n) {
    const int64_t label = gen.randint(2);
    // Same size range for both classes (a square's half-side vs a circle's radius), so the
    // area alone does not give the answer: the network has to see corners.
    const double half = gen.uniform(0.18, 0.32) * size;
    const double cx = gen.uniform(half + 1, size - half - 1);
    const double cy = gen.uniform(half + 1, size - half - 1);
    const double background = gen.uniform(0.0, 0.3), foreground = gen.uniform(0.6, 1.0);
    float* img = pixels + n * size * size;
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const bool inside = label == 0 ? dx * dx + dy * dy <= half * half
                                       : std::max(std::abs(dx), std::abs(dy)) <= half;
        const double noise = gen.uniform(-0.08, 0.08);
        img[y * size + x] = static_cast<float>((inside ? foreground : background) + noise);
      }
    out.labels.push_back(label);
  }
  return out;
}

}  // namespace busi::data
