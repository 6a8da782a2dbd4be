// Per-image transforms of the loader: training augmentation (random resized crop, horizontal
// flip, small rotation, brightness/contrast jitter) and the plain evaluation resize/centre crop.
#pragma once

#include <cstdint>

#include "data/image.h"
#include "engine/random.h"

namespace busi::data {

// Each augmentation can be switched off on its own; AugmentOptions::none() switches all off.
struct AugmentOptions {
  // Random resized crop: a rectangle of `scale` x the image's area (scale uniform in
  // [crop_scale_min, crop_scale_max]) and aspect ratio w/h log-uniform in [crop_ratio_min,
  // crop_ratio_max], placed uniformly inside the image, stretched to the output size. If 10
  // draws do not fit inside the image, the whole image is used. The scale stays high by default
  // (0.7-1) so that a lesion near the border is rarely cut out of the picture.
  bool random_resized_crop = true;
  double crop_scale_min = 0.70, crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  // Mirror left-right with probability flip_probability.
  bool horizontal_flip = true;
  double flip_probability = 0.5;
  // Rotation about the crop centre by an angle uniform in [-rotation_degrees, rotation_degrees];
  // the corners brought in from outside the image are black, like an ultrasound's background.
  bool rotation = true;
  double rotation_degrees = 10.0;
  // v -> ((v - m) c + m) b with m the image's mean value, contrast factor c uniform in
  // [1 - contrast, 1 + contrast] and brightness factor b uniform in [1 - brightness,
  // 1 + brightness]; clamped to [0, 255].
  bool brightness_contrast = true;
  double brightness = 0.15, contrast = 0.15;
  // The policy. Fixed: every enabled augmentation above, each image. Trivial (TrivialAugment,
  // Müller & Hutter 2021, with operations suited to grey ultrasound): the crop and flip, then
  // ONE operation drawn uniformly from TrivialOp at a strength uniform in [0, 1] (and a random
  // sign where it has one) instead of the fixed rotation and brightness/contrast. No policy
  // search and no tuned magnitudes: the diversity is the point.
  enum class Policy { Fixed, Trivial };
  Policy policy = Policy::Fixed;

  static AugmentOptions none();
  // Throws busi::Error naming the first option out of its range: crop scales in (0, 1] with
  // min <= max, crop ratios > 0 with min <= max, flip_probability in [0, 1],
  // rotation_degrees in [0, 180], brightness and contrast in [0, 1). Every option is checked,
  // also those of a switched-off augmentation.
  void check() const;
};

// TrivialAugment's operations and their strength 1 (the largest): rotate by 30 degrees; shear
// by 0.3; translate by 20 % of the crop; brightness and contrast factors 1 +- 0.5; gamma
// v' = 255 (v / 255)^g with g in [1 / 1.7, 1.7]; Gaussian blur of sigma 1.5 output pixels;
// speckle v' = v (1 + 0.3 n), n ~ N(0, 1) per pixel (the multiplicative noise of ultrasound).
enum class TrivialOp {
  Identity,
  Rotate,
  ShearX,
  ShearY,
  TranslateX,
  TranslateY,
  Brightness,
  Contrast,
  Gamma,
  Blur,
  Speckle
};
inline constexpr int kTrivialOps = 11;
const char* trivial_op_name(TrivialOp op);

// One draw of the trivial policy: the operation, its strength in [0, 1] and its sign (+-1).
struct TrivialDraw {
  TrivialOp op = TrivialOp::Identity;
  double strength = 0, sign = 1;
};

// The training transform: checks `options` (AugmentOptions::check), draws the enabled
// augmentations from `gen` (in the order crop, flip, rotation, contrast, brightness; a disabled
// one draws nothing) and returns a (height, width) image with image.channels channels. Geometry
// is one affine map from output to source pixels, sampled bilinearly; keep the source near the
// output size (e.g. cache at 256 for 224) since a bilinear sample does not average away detail
// when it shrinks a lot.
Image augment_image(const Image& image, int64_t height, int64_t width,
                    const AugmentOptions& options, Generator& gen);
// The same, also returning the trivial policy's draw (Identity under the fixed policy).
Image augment_image(const Image& image, int64_t height, int64_t width,
                    const AugmentOptions& options, Generator& gen, TrivialDraw* draw);

// The evaluation transform: the centre crop_fraction of each side (1 = the whole image), resized
// to (height, width) with resize_image (area filter when shrinking, bilinear when enlarging).
Image eval_image(const Image& image, int64_t height, int64_t width, double crop_fraction = 1.0);

}  // namespace busi::data
