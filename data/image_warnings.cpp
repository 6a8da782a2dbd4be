// The out-of-distribution checks of image_warnings.h.
#include "data/image_warnings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace busi::data {

double colour_difference(const Image& image) {
  if (image.channels < 3 || image.pixels.empty()) return 0.0;
  int64_t sum = 0;
  const int64_t n = image.height * image.width;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = &image.pixels[static_cast<size_t>(i * image.channels)];
    sum += std::abs(int(p[0]) - int(p[1])) + std::abs(int(p[1]) - int(p[2]));
  }
  return static_cast<double>(sum) / static_cast<double>(n);
}

std::vector<std::string> input_warnings(const Image& image) {
  std::vector<std::string> warnings;
  const std::string size = std::to_string(image.width) + " x " + std::to_string(image.height);
  const int64_t shorter = std::min(image.width, image.height);
  const int64_t longer = std::max(image.width, image.height);
  if (shorter < kMinInputSide) {
    std::string w = "the image is ";
    w += size;
    w += " pixels: a side under ";
    w += std::to_string(kMinInputSide);
    w += " px is far smaller than the training images (BUSI: 256 x 256 here, ~500 px originally)";
    warnings.push_back(w);
  }
  if (shorter > 0 && static_cast<double>(longer) / static_cast<double>(shorter) > kMaxAspectRatio) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.1f", static_cast<double>(longer) / shorter);
    std::string w = "the image is ";
    w += size;
    w += " pixels, ";
    w += ratio;
    w += ":1: far more elongated than an ultrasound frame (BUSI's are square to about 16:9); it is "
         "squashed to a square before the model sees it";
    warnings.push_back(w);
  }
  const double colour = colour_difference(image);
  if (colour > kMaxColourDifference) {
    char amount[32];
    std::snprintf(amount, sizeof amount, "%.1f", colour);
    std::string w = "the image is in colour (mean |R-G|+|G-B| = ";
    w += amount;
    w += " grey levels; BUSI's are under 3): ultrasound images are grey, this looks like a "
         "photograph or "
         "a colour figure";
    warnings.push_back(w);
  }
  return warnings;
}

}  // namespace busi::data
