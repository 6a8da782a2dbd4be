// The kernel transposition of layout.h.
#include "weights/layout.h"

#include "kernels/common/error.h"

namespace busi::weights {

Tensor hwio_to_oihw(const std::vector<float>& hwio, const Shape& hwio_shape) {
  BUSI_CHECK(hwio_shape.size() == 4, "hwio_to_oihw: expected a 4-d H x W x I x O shape, got ",
             shape_str(hwio_shape));
  const int64_t H = hwio_shape[0], W = hwio_shape[1], I = hwio_shape[2], O = hwio_shape[3];
  BUSI_CHECK(static_cast<int64_t>(hwio.size()) == shape_numel(hwio_shape),
             "hwio_to_oihw: ", hwio.size(), " values do not fill shape ", shape_str(hwio_shape));
  Tensor out = Tensor::empty({O, I, H, W});
  float* dst = out.data();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          dst[((o * I + i) * H + h) * W + w] =
              hwio[static_cast<size_t>(((h * W + w) * I + i) * O + o)];
  return out;
}

}  // namespace busi::weights
