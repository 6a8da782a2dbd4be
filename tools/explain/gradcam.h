// Grad-CAM (Selvaraju et al. 2017): which parts of an image made the network choose a class,
// from the last conv layer's activations weighted by the class score's gradient, drawn as a
// jet-coloured heat map over the grey image and written as PNG.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/tensor.h"

namespace busi::tools {

// A map of values in [0, 1], row-major (height, width).
struct HeatMap {
  int64_t height = 0, width = 0;
  std::vector<float> values;
};

// Grad-CAM of one image for one class:
//   features: A = forward_features(x), (1, K, h, w), the last conv layer's ReLU output;
//   head:     logits = head(A), (1, classes).
// A is cut out of the graph and made a leaf that wants a gradient; the class score
// y_c = logits[0, c] is back-propagated to it; each channel's weight is the mean of dy_c/dA_k
// over (h, w), and the map is ReLU(sum_k w_k A_k), scaled to [0, 1] (all zero when flat). The
// model must be in eval mode (no dropout) with gradient recording on.
HeatMap grad_cam(const Tensor& features, const std::function<Tensor(const Tensor&)>& head,
                 int64_t class_index);

// Bilinear resize of a heat map (pixel centres aligned, edges clamped), e.g. from the 8 x 8
// feature grid to the image's size.
HeatMap resize_heat_map(const HeatMap& map, int64_t height, int64_t width);

// The heat map in the "jet" colours (blue = 0, green, yellow, red = 1) blended over the grey
// version of `image` (the map must have the image's size): out = (1 - alpha) grey + alpha jet.
// Returns an RGB image.
data::Image overlay_heat_map(const data::Image& image, const HeatMap& map, float alpha = 0.45f);

// Writes an 8-bit grey, RGB or RGBA image as PNG; throws busi::Error naming the file on failure.
void write_png(const std::string& path, const data::Image& image);

}  // namespace busi::tools
