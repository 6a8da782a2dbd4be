// Training augmentation as one affine warp plus a brightness/contrast lookup table; the
// evaluation resize/centre crop.
#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <vector>
#include <numbers>

#include "kernels/common/error.h"

namespace busi::data {

AugmentOptions AugmentOptions::none() {
  AugmentOptions options;
  options.random_resized_crop = false;
  options.horizontal_flip = false;
  options.rotation = false;
  options.brightness_contrast = false;
  return options;
}

void AugmentOptions::check() const {
  // Written as "value inside the range" so that a NaN, for which every comparison is false,
  // fails too.
  BUSI_CHECK(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1,
             "augmentation: crop scale range [", crop_scale_min, ", ", crop_scale_max,
             "] must satisfy 0 < min <= max <= 1 (fractions of the image's area)");
  BUSI_CHECK(
      crop_ratio_min > 0 && crop_ratio_min <= crop_ratio_max && std::isfinite(crop_ratio_max),
      "augmentation: crop aspect-ratio range [", crop_ratio_min, ", ", crop_ratio_max,
      "] must satisfy 0 < min <= max (width / height)");
  BUSI_CHECK(flip_probability >= 0 && flip_probability <= 1,
             "augmentation: flip probability must be in [0, 1], got ", flip_probability);
  BUSI_CHECK(rotation_degrees >= 0 && rotation_degrees <= 180,
             "augmentation: rotation must be in [0, 180] degrees (the angle is drawn in [-r, r]), "
             "got ",
             rotation_degrees);
  BUSI_CHECK(brightness >= 0 && brightness < 1,
             "augmentation: brightness jitter must be in [0, 1) (factor in [1 - b, 1 + b]), got ",
             brightness);
  BUSI_CHECK(contrast >= 0 && contrast < 1,
             "augmentation: contrast jitter must be in [0, 1) (factor in [1 - c, 1 + c]), got ",
             contrast);
}

namespace {

// The source rectangle that becomes the output: centre and size in source pixels.
struct CropBox {
  double center_x, center_y, width, height;
};

CropBox draw_crop(const Image& image, const AugmentOptions& options, Generator& gen) {
  const double W = static_cast<double>(image.width), H = static_cast<double>(image.height);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = W * H * gen.uniform(options.crop_scale_min, options.crop_scale_max);
    const double ratio =
        std::exp(gen.uniform(std::log(options.crop_ratio_min), std::log(options.crop_ratio_max)));
    // w h = area and w / h = ratio.
    const double w = std::sqrt(area * ratio), h = std::sqrt(area / ratio);
    if (w <= W && h <= H)
      return {gen.uniform(w / 2, W - w / 2), gen.uniform(h / 2, H - h / 2), w, h};
  }
  return {W / 2, H / 2, W, H};
}

// Writes the bilinear sample of every channel at source coordinates (x, y) to `out`, where
// pixel i has its centre at i. Points outside the image's area ([-0.5, W - 0.5]) stay black;
// inside it the border pixels repeat.
void sample_bilinear(const Image& image, double x, double y, uint8_t* out) {
  const double W = static_cast<double>(image.width), H = static_cast<double>(image.height);
  if (x < -0.5 || x > W - 0.5 || y < -0.5 || y > H - 0.5) return;
  x = std::clamp(x, 0.0, W - 1);
  y = std::clamp(y, 0.0, H - 1);
  const int64_t x0 = static_cast<int64_t>(x), y0 = static_cast<int64_t>(y);
  const int64_t x1 = std::min(x0 + 1, image.width - 1), y1 = std::min(y0 + 1, image.height - 1);
  const float fx = static_cast<float>(x - static_cast<double>(x0));
  const float fy = static_cast<float>(y - static_cast<double>(y0));
  // The four neighbours' weights: (1 - fx)(1 - fy), fx (1 - fy), (1 - fx) fy, fx fy.
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  const uint8_t* p00 = &image.pixels[(y0 * image.width + x0) * image.channels];
  const uint8_t* p01 = &image.pixels[(y0 * image.width + x1) * image.channels];
  const uint8_t* p10 = &image.pixels[(y1 * image.width + x0) * image.channels];
  const uint8_t* p11 = &image.pixels[(y1 * image.width + x1) * image.channels];
  for (int64_t c = 0; c < image.channels; ++c) {
    const float v = w00 * p00[c] + w01 * p01[c] + w10 * p10[c] + w11 * p11[c];
    out[c] = static_cast<uint8_t>(std::min(v + 0.5f, 255.0f));
  }
}

// A lookup table applied to every value (brightness, contrast, gamma).
void apply_table(Image& image, const std::function<double(int)>& f) {
  std::array<uint8_t, 256> table;
  for (int v = 0; v < 256; ++v)
    table[v] = static_cast<uint8_t>(std::clamp(std::lround(f(v)), 0L, 255L));
  for (uint8_t& v : image.pixels) v = table[v];
}

double mean_value(const Image& image) {
  uint64_t sum = 0;
  for (uint8_t v : image.pixels) sum += v;
  return static_cast<double>(sum) / static_cast<double>(std::max<size_t>(1, image.pixels.size()));
}

// v -> ((v - m) contrast + m) brightness, m the image's mean value.
void jitter_brightness_contrast(Image& image, double contrast, double brightness) {
  const double mean = mean_value(image);
  apply_table(image, [&](int v) { return ((v - mean) * contrast + mean) * brightness; });
}

// The output of an affine warp: output pixel (ox, oy) -> offset (u, v) from the crop centre in
// source pixels, u = ((ox + 0.5) / width - 0.5) crop.width (negated when flipped), likewise v,
// mapped by the matrix [a b; c d] and moved to the crop centre plus (tx, ty) (pixel centres at
// integer + 0.5):  x = cx + tx + a u + b v - 0.5,  y = cy + ty + c u + d v - 0.5.
// Along a row u grows by du = crop.width / width each pixel, so x and y grow by a du and c du:
// the loop adds those instead of recomputing the map.
struct Affine {
  double a = 1, b = 0, c = 0, d = 1, tx = 0, ty = 0;
};

Image warp(const Image& image, const CropBox& crop, bool flip, const Affine& m, int64_t height,
           int64_t width) {
  const double sign = flip ? -1.0 : 1.0;
  const double du = sign * crop.width / static_cast<double>(width);
  const double u_first = sign * (0.5 / static_cast<double>(width) - 0.5) * crop.width;
  Image out(height, width, image.channels);
  for (int64_t oy = 0; oy < height; ++oy) {
    const double v = ((oy + 0.5) / static_cast<double>(height) - 0.5) * crop.height;
    double x = crop.center_x + m.tx + m.a * u_first + m.b * v - 0.5;
    double y = crop.center_y + m.ty + m.c * u_first + m.d * v - 0.5;
    for (int64_t ox = 0; ox < width; ++ox, x += du * m.a, y += du * m.c)
      sample_bilinear(image, x, y, &out.at(oy, ox, 0));
  }
  return out;
}

Affine rotation(double degrees) {
  const double t = degrees * std::numbers::pi / 180.0;
  return {std::cos(t), -std::sin(t), std::sin(t), std::cos(t), 0, 0};
}

// Separable Gaussian blur of every channel, sigma in pixels (radius 3 sigma, edges repeated).
void gaussian_blur(Image& image, double sigma) {
  if (sigma < 0.05) return;
  const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(static_cast<size_t>(2 * r + 1));
  float total = 0;
  for (int i = -r; i <= r; ++i)
    total += k[static_cast<size_t>(i + r)] =
        static_cast<float>(std::exp(-i * i / (2 * sigma * sigma)));
  for (float& w : k) w /= total;
  const int64_t H = image.height, W = image.width, C = image.channels;
  std::vector<float> tmp(image.pixels.size());  // (H, W, C), after the horizontal pass
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < C; ++c) {
        float s = 0;
        for (int i = -r; i <= r; ++i)
          s += k[static_cast<size_t>(i + r)] * image.at(y, std::clamp<int64_t>(x + i, 0, W - 1), c);
        tmp[static_cast<size_t>((y * W + x) * C + c)] = s;
      }
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < C; ++c) {
        float s = 0;
        for (int i = -r; i <= r; ++i)
          s += k[static_cast<size_t>(i + r)] *
               tmp[static_cast<size_t>((std::clamp<int64_t>(y + i, 0, H - 1) * W + x) * C + c)];
        image.at(y, x, c) = static_cast<uint8_t>(std::clamp(std::lround(s), 0L, 255L));
      }
}

// The trivial policy's operation applied: the geometric ones through the warp, the others after.
Image trivial_augment(const Image& image, const CropBox& crop, bool flip, const TrivialDraw& t,
                      int64_t height, int64_t width, Generator& gen) {
  const double s = t.strength * t.sign;
  Affine m;
  switch (t.op) {
    case TrivialOp::Rotate:
      m = rotation(30.0 * s);
      break;
    case TrivialOp::ShearX:
      m.b = 0.3 * s;
      break;
    case TrivialOp::ShearY:
      m.c = 0.3 * s;
      break;
    case TrivialOp::TranslateX:
      m.tx = 0.2 * s * crop.width;
      break;
    case TrivialOp::TranslateY:
      m.ty = 0.2 * s * crop.height;
      break;
    default:
      break;
  }
  Image out = warp(image, crop, flip, m, height, width);
  switch (t.op) {
    case TrivialOp::Brightness:
      apply_table(out, [&](int v) { return v * (1 + 0.5 * s); });
      break;
    case TrivialOp::Contrast:
      jitter_brightness_contrast(out, 1 + 0.5 * s, 1.0);
      break;
    case TrivialOp::Gamma: {
      const double g = std::exp(s * std::log(1.7));
      apply_table(out, [&](int v) { return 255.0 * std::pow(v / 255.0, g); });
      break;
    }
    case TrivialOp::Blur:
      gaussian_blur(out, 1.5 * t.strength);
      break;
    case TrivialOp::Speckle:
      for (uint8_t& v : out.pixels)
        v = static_cast<uint8_t>(
            std::clamp(std::lround(v * (1 + 0.3 * t.strength * gen.normal())), 0L, 255L));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

const char* trivial_op_name(TrivialOp op) {
  static const char* names[kTrivialOps] = {"identity",    "rotate",      "shear_x",    "shear_y",
                                           "translate_x", "translate_y", "brightness", "contrast",
                                           "gamma",       "blur",        "speckle"};
  return names[static_cast<int>(op)];
}

Image augment_image(const Image& image, int64_t height, int64_t width,
                    const AugmentOptions& options, Generator& gen) {
  return augment_image(image, height, width, options, gen, nullptr);
}

Image augment_image(const Image& image, int64_t height, int64_t width,
                    const AugmentOptions& options, Generator& gen, TrivialDraw* draw) {
  BUSI_CHECK(height > 0 && width > 0 && image.height > 0 && image.width > 0,
             "augment_image: empty image or output size");
  options.check();
  const CropBox crop = options.random_resized_crop ? draw_crop(image, options, gen)
                                                   : CropBox{image.width / 2.0, image.height / 2.0,
                                                             static_cast<double>(image.width),
                                                             static_cast<double>(image.height)};
  const bool flip = options.horizontal_flip && gen.uniform() < options.flip_probability;
  if (options.policy == AugmentOptions::Policy::Trivial) {
    TrivialDraw t;
    t.op = static_cast<TrivialOp>(
        std::min(kTrivialOps - 1, static_cast<int>(gen.uniform() * kTrivialOps)));
    t.strength = gen.uniform();
    t.sign = gen.uniform() < 0.5 ? -1.0 : 1.0;
    if (draw) *draw = t;
    return trivial_augment(image, crop, flip, t, height, width, gen);
  }
  if (draw) *draw = TrivialDraw{};
  const double degrees =
      options.rotation ? gen.uniform(-options.rotation_degrees, options.rotation_degrees) : 0.0;
  Image out = warp(image, crop, flip, rotation(degrees), height, width);
  if (options.brightness_contrast) {
    const double contrast = gen.uniform(1 - options.contrast, 1 + options.contrast);
    const double brightness = gen.uniform(1 - options.brightness, 1 + options.brightness);
    jitter_brightness_contrast(out, contrast, brightness);
  }
  return out;
}

Image eval_image(const Image& image, int64_t height, int64_t width, double crop_fraction) {
  BUSI_CHECK(crop_fraction > 0 && crop_fraction <= 1,
             "eval_image: crop_fraction must be in (0, 1], got ", crop_fraction);
  if (crop_fraction == 1.0) return resize_image(image, height, width);
  const int64_t crop_h = std::max<int64_t>(1, std::lround(image.height * crop_fraction));
  const int64_t crop_w = std::max<int64_t>(1, std::lround(image.width * crop_fraction));
  const Image center =
      crop_image(image, (image.height - crop_h) / 2, (image.width - crop_w) / 2, crop_h, crop_w);
  return resize_image(center, height, width);
}

}  // namespace busi::data
