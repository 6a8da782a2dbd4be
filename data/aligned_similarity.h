// The fine check of near-duplicate detection: how well two images' fine detail correlates once
// one is aligned on the other (a crop of up to 10 % per axis, a shift of up to 1/8 of the side),
// the alignment searched coarse to fine over a pyramid of band-passed thumbnails.
#pragma once

#include <cstdint>
#include <vector>

#include "data/image_signature.h"

namespace busi::data {

// One image as the aligned side of a comparison: for each crop variant (the centre kx x ky of the
// image, kx, ky in {1, 0.95, 0.9}, resampled to 64 x 64; 9 variants) and each pyramid level
// (16, 32, 64 px), the centre window of the band-passed level (side L - 2R, R = L / 8), minus
// its mean, over its norm.
struct QueryPyramid {
  // windows[v][l]: variant v, level l, (W_l, W_l) row-major, W = 12, 24, 48.
  std::vector<std::vector<std::vector<float>>> windows;
};

// One image as the searched side: each level band-passed at full size, (L, L), with the integral
// images of its values and squares, (L + 1, L + 1), for the window sums of the correlation.
struct TargetPyramid {
  std::vector<std::vector<float>> level, sum, sum_sq;  // by level
};

QueryPyramid make_query_pyramid(const ImageSignature& signature);
TargetPyramid make_target_pyramid(const ImageSignature& signature);

// The best correlation of a's aligned windows with b at the finest level:
//   D(a -> b) = max over variant v, offset o of  sum_i a_v[i] b_o[i] / |b_o - mean(b_o)|
// (a_v zero-mean with unit norm, b_o the window of b at offset o), searched at 16 px over every
// variant and offset, then refined around the 3 best at 32 and at 64 px (offset 2 o +- 1).
// In [-1, 1]; 0 when either side has no detail.
float directional_similarity(const QueryPyramid& a, const TargetPyramid& b);

// The fine similarity: max(D(a -> b), D(b -> a)), a crop of either image matched on the other.
float fine_similarity(const ImageSignature& a, const ImageSignature& b);

}  // namespace busi::data
