// Normalization: uint8 (H, W, C) image -> float (C, H, W) network input, with the presets the
// models need: imagenet-caffe and imagenet-torch (VGG16, as its weight file says) and dataset
// (mean/std measured on the training subset, for SimpleCNN).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_cache.h"

namespace busi::data {

struct Normalization {
  std::string name;
  // Output channel c reads input channel (bgr ? C - 1 - c : c), then
  //   out = (pixel scale - mean[c]) / std[c]        (mean, std per output channel)
  bool bgr = false;
  double scale = 1.0;
  std::vector<double> mean, std;

  int64_t channels() const { return static_cast<int64_t>(mean.size()); }

  // Keras/Caffe VGG16: BGR order, 0..255 values minus the ImageNet means (B 103.939,
  // G 116.779, R 123.68), no division.
  static Normalization imagenet_caffe();
  // torchvision VGG16: RGB, x / 255, minus mean (0.485, 0.456, 0.406), over std (0.229, 0.224,
  // 0.225).
  static Normalization imagenet_torch();
  // "imagenet-caffe" or "imagenet-torch" (the name a weight file gives); "dataset" needs
  // measured statistics: use Normalization::dataset.
  static Normalization from_name(const std::string& name);
  // Per-channel mean and standard deviation of x / 255 over all pixels of the given cached
  // images (the training subset, as cached: no augmentation): out = (x / 255 - mean) / std.
  static Normalization dataset(const ImageCache& cache, const std::vector<int64_t>& sample_ids);

  // Writes image's normalised values to out, laid out (C, H, W). image.channels must equal
  // channels().
  void apply(const Image& image, float* out) const;
};

}  // namespace busi::data
