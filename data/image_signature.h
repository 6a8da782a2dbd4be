// ImageSignature: the little that near-duplicate detection keeps of one image: grey thumbnails at
// 16, 32 and 64 px (about 9 KB), made once from the decoded image, whatever its size.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "data/image.h"

namespace busi::data {

inline constexpr int64_t kKeySize = 16;    // the LSH key and the gate: (16, 16)
inline constexpr int64_t kPlainSize = 32;  // the plain thumbnail correlation: (32, 32)
inline constexpr int64_t kFineSize = 64;   // the aligned fine check: (64, 64)

// The plain thumbnail again, made by the resampling filters of other programs (box, bilinear,
// Lanczos-3, and bilinear without antialiasing: image.h): a correlation of 0.93 between two
// images should not depend on which filter made their thumbnails, and some pairs pass under one
// and not another (issue 24). Kept as bytes, with the mean and 1 / norm of each, so that a
// correlation is one integer dot product: (sum a_i b_i - n m_a m_b) / (|a - m_a| |b - m_b|).
inline constexpr int kResampledPlains = 4;
struct ResampledPlain {
  std::array<uint8_t, kPlainSize * kPlainSize> pixels{};  // (32, 32)
  float mean = 0.0f;
  float inverse_norm = 0.0f;  // 0 for a flat thumbnail: correlation 0 with anything
};

struct ImageSignature {
  // (16, 16) and (32, 32) grey thumbnails (area averages), minus their mean, divided by their
  // norm, so that the dot product of two of them is their Pearson correlation. All zero for a flat
  // image (no contrast: correlation undefined), which is then nobody's near-duplicate.
  std::array<float, kKeySize * kKeySize> key{};
  std::array<float, kPlainSize * kPlainSize> plain{};
  std::vector<uint8_t> fine;  // (64, 64) grey thumbnail, area average rounded
  bool flat = false;          // standard deviation of the 32 px thumbnail below 1 grey level
  std::array<ResampledPlain, kResampledPlains> resampled;  // box, bilinear, Lanczos-3, point
};

// The signature of an image of any size and channel count (grey = the mean of R, G and B; BUSI's
// images are grey already). Thumbnails come from resize_image's area average.
ImageSignature make_signature(const Image& image);

// sum_i a_i b_i over n floats, n a multiple of 4, in four independent running sums (which the
// compiler turns into vector instructions; one sum would keep it to one lane, as float addition
// is not associative).
inline float dot_product(const float* a, const float* b, int64_t n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  for (int64_t i = 0; i < n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  return (s0 + s1) + (s2 + s3);
}

// Pearson correlations of two signatures' thumbnails: sum_i a_i b_i of the normalised vectors.
float key_correlation(const ImageSignature& a, const ImageSignature& b);
float plain_correlation(const ImageSignature& a, const ImageSignature& b);
// The highest plain correlation over the area thumbnails and the four resampled ones: the
// plain measure of near-duplicate grouping, whatever filter a checker uses.
float plain_correlation_any_filter(const ImageSignature& a, const ImageSignature& b);

}  // namespace busi::data
