// Grad-CAM heat maps, their colouring and PNG output (see gradcam.h).
#include "tools/explain/gradcam.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "engine/ops.h"

// stb_image_write's implementation is compiled here, private to this file (STATIC), so that the
// prebuilt libstb or another file compiling it too can never clash with it.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace busi::tools {

namespace {

// Scales values to [0, 1] by their maximum (they are >= 0 after the ReLU); a flat map stays 0.
void normalise_to_unit(std::vector<float>& values) {
  const float highest = values.empty() ? 0.0f : *std::max_element(values.begin(), values.end());
  for (float& v : values) v = highest > 0.0f ? v / highest : 0.0f;
}

// The "jet" colour of t in [0, 1]: three overlapping triangles for blue, green and red.
void jet_colour(float t, float rgb[3]) {
  auto ramp = [](float x) { return std::clamp(1.5f - std::fabs(x), 0.0f, 1.0f); };
  rgb[0] = ramp(4.0f * t - 3.0f);
  rgb[1] = ramp(4.0f * t - 2.0f);
  rgb[2] = ramp(4.0f * t - 1.0f);
}

// The grey level of pixel (y, x): the pixel itself, or the luma of its colour.
float grey_at(const data::Image& image, int64_t y, int64_t x) {
  if (image.channels < 3) return image.at(y, x, 0);
  return 0.299f * image.at(y, x, 0) + 0.587f * image.at(y, x, 1) + 0.114f * image.at(y, x, 2);
}

}  // namespace

HeatMap grad_cam(const Tensor& features, const std::function<Tensor(const Tensor&)>& head,
                 int64_t class_index) {
  BUSI_CHECK(features.dim() == 4 && features.size(0) == 1,
             "grad_cam: expected features (1, K, h, w), got ", shape_str(features.shape()));
  BUSI_CHECK(grad_enabled(), "grad_cam: gradient recording is off (inside a NoGradGuard)");
  // A leaf copy of the activations: the gradient stops here, the layers below are not needed.
  Tensor leaf = features.detach().clone();
  leaf.set_requires_grad(true);
  const Tensor logits = head(leaf);
  BUSI_CHECK(logits.dim() == 2 && class_index >= 0 && class_index < logits.size(1),
             "grad_cam: class ", class_index, " out of range for logits ",
             shape_str(logits.shape()));
  // y_c as a differentiable sum: logits times a one-hot row.
  std::vector<float> one_hot(static_cast<size_t>(logits.size(1)), 0.0f);
  one_hot[static_cast<size_t>(class_index)] = 1.0f;
  const Tensor score =
      sum(mul(logits, Tensor::from_vector(one_hot, {1, logits.size(1)}, logits.device())));
  score.backward();

  const std::vector<float> a = leaf.to_vector();         // (K, h, w)
  const std::vector<float> g = leaf.grad().to_vector();  // dy_c/dA, (K, h, w)
  const int64_t channels = features.size(1), h = features.size(2), w = features.size(3);
  const int64_t plane = h * w;
  HeatMap map{h, w, std::vector<float>(static_cast<size_t>(plane), 0.0f)};
  for (int64_t k = 0; k < channels; ++k) {
    double weight = 0.0;  // the mean gradient of channel k: how much the class needs it
    for (int64_t i = 0; i < plane; ++i) weight += g[k * plane + i];
    weight /= static_cast<double>(plane);
    for (int64_t i = 0; i < plane; ++i)
      map.values[i] += static_cast<float>(weight) * a[k * plane + i];
  }
  for (float& v : map.values) v = std::max(v, 0.0f);  // only evidence *for* the class
  normalise_to_unit(map.values);
  return map;
}

HeatMap resize_heat_map(const HeatMap& map, int64_t height, int64_t width) {
  BUSI_CHECK(map.height > 0 && map.width > 0 && height > 0 && width > 0,
             "resize_heat_map: empty map or target");
  HeatMap out{height, width, std::vector<float>(static_cast<size_t>(height * width))};
  // Source coordinate of an output pixel centre, clamped so edge pixels repeat.
  auto source = [](int64_t i, int64_t out_size, int64_t in_size, int64_t& i0, int64_t& i1,
                   float& frac) {
    const double s = (i + 0.5) * static_cast<double>(in_size) / out_size - 0.5;
    const double clamped = std::clamp(s, 0.0, static_cast<double>(in_size - 1));
    i0 = static_cast<int64_t>(std::floor(clamped));
    i1 = std::min(i0 + 1, in_size - 1);
    frac = static_cast<float>(clamped - i0);
  };
  for (int64_t y = 0; y < height; ++y) {
    int64_t y0, y1;
    float fy;
    source(y, height, map.height, y0, y1, fy);
    for (int64_t x = 0; x < width; ++x) {
      int64_t x0, x1;
      float fx;
      source(x, width, map.width, x0, x1, fx);
      auto at = [&](int64_t yy, int64_t xx) { return map.values[yy * map.width + xx]; };
      const float top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
      const float bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
      out.values[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

data::Image overlay_heat_map(const data::Image& image, const HeatMap& map, float alpha) {
  BUSI_CHECK(map.height == image.height && map.width == image.width, "overlay_heat_map: map ",
             map.height, "x", map.width, " but image ", image.height, "x", image.width);
  data::Image out(image.height, image.width, 3);
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) {
      const float grey = grey_at(image, y, x);
      float rgb[3];
      jet_colour(map.values[y * map.width + x], rgb);
      for (int c = 0; c < 3; ++c) {
        const float v = (1.0f - alpha) * grey + alpha * 255.0f * rgb[c];
        out.at(y, x, c) = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

void write_png(const std::string& path, const data::Image& image) {
  BUSI_CHECK(image.channels >= 1 && image.channels <= 4 && image.height > 0 && image.width > 0,
             path, ": cannot write an empty image or one with ", image.channels, " channels");
  const int ok =
      stbi_write_png(path.c_str(), static_cast<int>(image.width), static_cast<int>(image.height),
                     static_cast<int>(image.channels), image.pixels.data(),
                     static_cast<int>(image.width * image.channels));
  BUSI_CHECK(ok != 0, path, ": cannot write the PNG file (folder missing or not writable?)");
}

}  // namespace busi::tools
