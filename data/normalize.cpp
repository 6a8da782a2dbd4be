// The normalisation presets, the dataset statistics and the uint8 HWC -> float CHW conversion.
#include "data/normalize.h"

#include <array>
#include <cmath>

#include "kernels/common/error.h"

namespace busi::data {

Normalization Normalization::imagenet_caffe() {
  return {"imagenet-caffe", true, 1.0, {103.939, 116.779, 123.68}, {1.0, 1.0, 1.0}};
}

Normalization Normalization::imagenet_torch() {
  return {"imagenet-torch", false, 1.0 / 255.0, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
}

Normalization Normalization::from_name(const std::string& name) {
  if (name == "imagenet-caffe") return imagenet_caffe();
  if (name == "imagenet-torch") return imagenet_torch();
  BUSI_CHECK(name != "dataset",
             "normalization 'dataset' is measured on the training images: use "
             "Normalization::dataset(cache, train_ids)");
  throw Error("unknown normalization '" + name +
              "' (expected imagenet-caffe, imagenet-torch or dataset)");
}

Normalization Normalization::dataset(const ImageCache& cache,
                                     const std::vector<int64_t>& sample_ids) {
  BUSI_CHECK(!sample_ids.empty(), "Normalization::dataset: no training images to measure");
  const int64_t C = cache.channels();
  // Sums of v and v^2 per channel in double (exact for integers up to 2^53); then
  // mean = E[v] / 255 and std = sqrt(E[v^2] - E[v]^2) / 255.
  std::vector<double> sum(C, 0.0), sum_sq(C, 0.0);
  double count = 0;
  for (int64_t id : sample_ids) {
    const Image& image = cache.image(id);
    for (size_t i = 0; i < image.pixels.size(); ++i) {
      const double v = image.pixels[i];
      sum[i % C] += v;
      sum_sq[i % C] += v * v;
    }
    count += static_cast<double>(image.height * image.width);
  }
  Normalization norm{"dataset", false, 1.0 / 255.0, {}, {}};
  for (int64_t c = 0; c < C; ++c) {
    const double mean = sum[c] / count;
    const double variance = std::max(0.0, sum_sq[c] / count - mean * mean);
    BUSI_CHECK(variance > 1e-6, "Normalization::dataset: channel ", c,
               " has the same value in every pixel; cannot divide by its std");
    norm.mean.push_back(mean / 255.0);
    norm.std.push_back(std::sqrt(variance) / 255.0);
  }
  return norm;
}

void Normalization::apply(const Image& image, float* out) const {
  const int64_t C = channels();
  BUSI_CHECK(image.channels == C, "normalization '", name, "' expects ", C, "-channel images, got ",
             image.channels, " channels");
  const int64_t plane = image.height * image.width;
  for (int64_t c = 0; c < C; ++c) {
    // All 256 possible outputs of this channel, computed once in double.
    std::array<float, 256> table;
    for (int v = 0; v < 256; ++v) table[v] = static_cast<float>((v * scale - mean[c]) / std[c]);
    const int64_t source = bgr ? C - 1 - c : c;
    float* dst = out + c * plane;  // (H, W) plane of channel c
    for (int64_t i = 0; i < plane; ++i) dst[i] = table[image.pixels[i * C + source]];
  }
}

}  // namespace busi::data
