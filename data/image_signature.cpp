// Grey thumbnails of an image and their correlations (see image_signature.h).
#include "data/image_signature.h"

#include <cmath>
#include <numeric>

#include "kernels/common/error.h"

namespace busi::data {

namespace {

// One grey channel: the mean of the colour channels (alpha, a fourth channel, is ignored).
Image to_grey(const Image& image) {
  if (image.channels == 1) return image;
  Image grey(image.height, image.width, 1);
  const int64_t colours = image.channels >= 3 ? 3 : 1;
  for (int64_t i = 0; i < image.height * image.width; ++i) {
    int sum = 0;
    for (int64_t c = 0; c < colours; ++c) sum += image.pixels[i * image.channels + c];
    grey.pixels[i] = static_cast<uint8_t>((sum + colours / 2) / colours);
  }
  return grey;
}

// x -> (x - mean) / |x - mean| over the thumbnail; returns the standard deviation.
template <size_t N>
double normalise(const Image& thumb, std::array<float, N>& out) {
  const double mean =
      std::accumulate(thumb.pixels.begin(), thumb.pixels.end(), 0.0) / static_cast<double>(N);
  double squares = 0.0;
  for (size_t i = 0; i < N; ++i) squares += (thumb.pixels[i] - mean) * (thumb.pixels[i] - mean);
  const double norm = std::sqrt(squares);
  for (size_t i = 0; i < N; ++i)
    out[i] = norm > 0 ? static_cast<float>((thumb.pixels[i] - mean) / norm) : 0.0f;
  return std::sqrt(squares / static_cast<double>(N));
}

template <size_t N>
float dot(const std::array<float, N>& a, const std::array<float, N>& b) {
  return dot_product(a.data(), b.data(), static_cast<int64_t>(N));
}

}  // namespace

ImageSignature make_signature(const Image& image) {
  BUSI_CHECK(image.height > 0 && image.width > 0, "make_signature: empty image");
  const Image grey = to_grey(image);
  ImageSignature s;
  s.fine = resize_image(grey, kFineSize, kFineSize).pixels;
  normalise(resize_image(grey, kKeySize, kKeySize), s.key);
  const double std_dev = normalise(resize_image(grey, kPlainSize, kPlainSize), s.plain);
  if (std_dev < 1.0) {
    s.flat = true;
    s.key.fill(0.0f);
    s.plain.fill(0.0f);
  }
  return s;
}

float key_correlation(const ImageSignature& a, const ImageSignature& b) {
  return dot(a.key, b.key);
}

float plain_correlation(const ImageSignature& a, const ImageSignature& b) {
  return dot(a.plain, b.plain);
}

}  // namespace busi::data
