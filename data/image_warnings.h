// Inputs far from what the models were trained on (BUSI: grey ultrasound frames of a few hundred
// pixels a side): images too small, too elongated, or in colour. Not errors - the model still
// answers - but warnings shown beside the answer by predict and serve.
#pragma once

#include <string>
#include <vector>

#include "data/image.h"

namespace busi::data {

// A side under this many pixels is "tiny". BUSI's working copy is 256 x 256 and the original
// release's frames are about 500 px a side (none under ~190 px); the models take 32-224 px inputs,
// so a 64 px side is a quarter of the smallest copy and is upscaled to mush.
constexpr int64_t kMinInputSide = 64;
// The longer side over the shorter one above this is "extreme". BUSI's copy is 1:1 and ultrasound
// frames are at most about 16:9 (1.8); 3 leaves margin for cropped or padded frames.
constexpr double kMaxAspectRatio = 3.0;
// colour_difference() above this (grey levels, 0-510) is "a colour picture". BUSI's 662 images
// measure at most 2.9 (a few carry small coloured marks; tests/test_input_warnings.cpp measures
// them all); a coloured line over 1 % of a frame gives about 3; photographs give 20-100.
constexpr double kMaxColourDifference = 10.0;

// The mean over pixels of |R - G| + |G - B| of an RGB image (0 for grey, and for 1 channel).
double colour_difference(const Image& image);

// One sentence per finding, e.g. "the image is 5 x 3 pixels: ...". `image` as decoded with 3
// channels when its file holds colour (for the colour check), or with 1 (size checks only).
std::vector<std::string> input_warnings(const Image& image);

}  // namespace busi::data
