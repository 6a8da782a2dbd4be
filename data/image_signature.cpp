// Grey thumbnails of an image and their correlations (see image_signature.h).
#include "data/image_signature.h"

#include <algorithm>
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

// The bytes, mean and 1 / norm of a resampled plain thumbnail (ResampledPlain).
ResampledPlain resampled_plain(const Image& grey, ResampleFilter filter) {
  ResampledPlain r;
  const Image thumb = resample_image(grey, kPlainSize, kPlainSize, filter);
  std::copy(thumb.pixels.begin(), thumb.pixels.end(), r.pixels.begin());
  const double n = static_cast<double>(r.pixels.size());
  const double mean = std::accumulate(r.pixels.begin(), r.pixels.end(), 0.0) / n;
  double squares = 0.0;
  for (uint8_t v : r.pixels) squares += (v - mean) * (v - mean);
  r.mean = static_cast<float>(mean);
  // Below one grey level of spread the thumbnail is flat, as for the area one.
  r.inverse_norm = squares / n >= 1.0 ? static_cast<float>(1.0 / std::sqrt(squares)) : 0.0f;
  return r;
}

float resampled_correlation(const ResampledPlain& a, const ResampledPlain& b) {
  int32_t dot = 0;  // at most 1024 * 255 * 255 < 2^31: exact
  for (size_t i = 0; i < a.pixels.size(); ++i) dot += int32_t(a.pixels[i]) * int32_t(b.pixels[i]);
  const double n = static_cast<double>(a.pixels.size());
  return static_cast<float>((dot - n * a.mean * b.mean) * a.inverse_norm * b.inverse_norm);
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
  const ResampleFilter filters[kResampledPlains] = {ResampleFilter::Box, ResampleFilter::Bilinear,
                                                    ResampleFilter::Lanczos3,
                                                    ResampleFilter::BilinearPoint};
  for (int k = 0; k < kResampledPlains; ++k) {
    s.resampled[k] = resampled_plain(grey, filters[k]);
    if (s.flat) s.resampled[k].inverse_norm = 0.0f;
  }
  return s;
}

float key_correlation(const ImageSignature& a, const ImageSignature& b) {
  return dot(a.key, b.key);
}

float plain_correlation(const ImageSignature& a, const ImageSignature& b) {
  return dot(a.plain, b.plain);
}

float plain_correlation_any_filter(const ImageSignature& a, const ImageSignature& b) {
  float best = plain_correlation(a, b);
  for (int k = 0; k < kResampledPlains; ++k)
    best = std::max(best, resampled_correlation(a.resampled[k], b.resampled[k]));
  return best;
}

}  // namespace busi::data
