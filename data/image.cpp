// Reading and decoding 8-bit images (PNG by stb_image: png_decode.cpp; JPEG by libjpeg-turbo:
// jpeg_decode.cpp; both after the checks of image_checks.h), resizing and cropping.
#include "data/image.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "data/image_checks.h"
#include "data/image_codecs.h"
#include "kernels/common/error.h"

namespace busi::data {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  BUSI_CHECK(file != nullptr, path, ": cannot open file (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  BUSI_CHECK(!std::ferror(file.get()), path, ": cannot read file (", std::strerror(errno), ")");
  return bytes;
}

namespace {

void check_not_empty(const std::vector<uint8_t>& bytes, const std::string& name) {
  BUSI_CHECK(!bytes.empty(), name, ": zero-byte file (not an image)");
  BUSI_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), name, ": file too large to decode");
}

}  // namespace

ImageInfo read_image_info(const std::vector<uint8_t>& bytes, const std::string& name) {
  check_not_empty(bytes, name);
  int64_t width = 0, height = 0;
  if (detail::claimed_size(bytes, width, height)) detail::check_claimed_size(width, height, name);
  ImageInfo info;
  if (detail::is_jpeg(bytes))
    info = detail::jpeg_info(bytes, name);
  else if (detail::is_png(bytes))
    info = detail::png_info(bytes, name);
  else
    throw Error(name + ": not a PNG or JPEG image (its first bytes are neither signature)");
  detail::check_claimed_size(info.width, info.height, name);
  return info;
}

namespace {
std::atomic<int64_t> g_images_decoded{0};
}  // namespace

int64_t images_decoded() { return g_images_decoded.load(std::memory_order_relaxed); }

Image decode_image(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name) {
  BUSI_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ",
             channels);
  // The header first: nothing is decoded for an image over the size limit, and the decode
  // waits for room in the budget (a decoder holds the pixels as stored and as asked for).
  const ImageInfo info = read_image_info(bytes, name);
  const detail::BudgetHold hold(info.height * info.width * (info.channels + channels));
  Image image = detail::is_jpeg(bytes) ? detail::jpeg_decode(bytes, channels, name)
                                       : detail::png_decode(bytes, channels, name);
  g_images_decoded.fetch_add(1, std::memory_order_relaxed);
  return image;
}

Image grey_like_decoder(const Image& image) {
  if (image.channels == 1) return image;
  BUSI_CHECK(image.channels == 3, "grey_like_decoder: 1 or 3 channels, got ", image.channels);
  Image grey(image.height, image.width, 1);
  const uint8_t* rgb = image.pixels.data();  // (H, W, 3)
  for (size_t i = 0; i < grey.pixels.size(); ++i, rgb += 3)
    grey.pixels[i] = static_cast<uint8_t>((77 * rgb[0] + 150 * rgb[1] + 29 * rgb[2]) >> 8);
  return grey;
}

Image decode_image_file(const std::string& path, int64_t channels) {
  return decode_image(read_file_bytes(path), channels, path);
}

namespace {

// One source pixel read by an output pixel, and its weight.
struct Tap {
  int64_t index;
  float weight;
};
// For each output position along one axis, its taps (weights sum to 1).
using AxisFilter = std::vector<std::vector<Tap>>;

// Pixel i covers [i, i + 1) and has its centre at i + 0.5; an output pixel o covers
// [o s, (o + 1) s) of the source, with s = in / out source pixels per output pixel.
AxisFilter make_axis_filter(int64_t in, int64_t out) {
  AxisFilter filter(out);
  const double s = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (out > in) {
      // Bilinear: the output centre (o + 0.5) s falls between the two nearest source centres
      // i0 + 0.5 and i0 + 1.5 at fraction f; edges repeat the border pixel.
      const double x = std::clamp((o + 0.5) * s - 0.5, 0.0, static_cast<double>(in - 1));
      const int64_t i0 = static_cast<int64_t>(x);
      const double f = x - static_cast<double>(i0);
      filter[o] = {{i0, static_cast<float>(1.0 - f)},
                   {std::min(i0 + 1, in - 1), static_cast<float>(f)}};
    } else {
      // Box: weight of source pixel i = |[i, i+1) ∩ [o s, (o+1) s)| / s.
      const double lo = o * s, hi = (o + 1) * s;
      for (int64_t i = static_cast<int64_t>(lo); i < in && static_cast<double>(i) < hi; ++i) {
        const double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
        if (overlap > 1e-12) filter[o].push_back({i, static_cast<float>(overlap / s)});
      }
    }
  }
  return filter;
}

uint8_t round_to_u8(float v) { return static_cast<uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f)); }

// A kernel filter as PIL builds one: the output centre c = (o + 0.5) s in source coordinates;
// source pixel i (centre i + 0.5) weighs K((i + 0.5 - c) / w) with w = max(s, 1) when
// `antialias` (the kernel widened to the shrink, so every source pixel counts), else w = 1; taps
// within the kernel's support times w; weights normalised to sum to 1.
AxisFilter make_kernel_filter(int64_t in, int64_t out, double support, bool antialias,
                              double (*kernel)(double)) {
  AxisFilter filter(out);
  const double s = static_cast<double>(in) / static_cast<double>(out);
  const double widen = antialias ? std::max(s, 1.0) : 1.0;
  for (int64_t o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * s;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(centre - support * widen + 0.5));
    const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(centre + support * widen + 0.5));
    double total = 0.0;
    std::vector<std::pair<int64_t, double>> taps;
    for (int64_t i = lo; i < hi; ++i) {
      const double w = kernel((i + 0.5 - centre) / widen);
      if (w != 0.0) taps.push_back({i, w}), total += w;
    }
    if (taps.empty() || total == 0.0) {  // a centre between taps: the nearest pixel
      filter[o] = {{std::clamp<int64_t>(static_cast<int64_t>(centre), 0, in - 1), 1.0f}};
      continue;
    }
    for (const auto& [i, w] : taps) filter[o].push_back({i, static_cast<float>(w / total)});
  }
  return filter;
}

double box_kernel(double x) { return x >= -0.5 && x < 0.5 ? 1.0 : 0.0; }
double triangle_kernel(double x) { return std::max(0.0, 1.0 - std::abs(x)); }
double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double px = 3.14159265358979323846 * x;
  return std::sin(px) / px;
}
double lanczos3_kernel(double x) { return std::abs(x) < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0; }

AxisFilter filter_for(ResampleFilter filter, int64_t in, int64_t out) {
  switch (filter) {
    case ResampleFilter::Box:
      return make_kernel_filter(in, out, 0.5, true, box_kernel);
    case ResampleFilter::Bilinear:
      return make_kernel_filter(in, out, 1.0, true, triangle_kernel);
    case ResampleFilter::Lanczos3:
      return make_kernel_filter(in, out, 3.0, true, lanczos3_kernel);
    case ResampleFilter::BilinearPoint:
      return make_kernel_filter(in, out, 1.0, false, triangle_kernel);
  }
  return {};
}

// Both passes of a separable resize: along x into float rows (H_in, W_out, C), then along y,
// rounding once.
Image apply_filters(const Image& image, int64_t height, int64_t width, const AxisFilter& along_x,
                    const AxisFilter& along_y) {
  const int64_t C = image.channels;
  std::vector<float> rows(image.height * width * C, 0.0f);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (const Tap& tap : along_x[x])
        for (int64_t c = 0; c < C; ++c)
          rows[(y * width + x) * C + c] += tap.weight * image.at(y, tap.index, c);
  Image out(height, width, C);
  std::vector<float> line(width * C);
  for (int64_t y = 0; y < height; ++y) {
    std::fill(line.begin(), line.end(), 0.0f);
    for (const Tap& tap : along_y[y]) {
      const float* src = &rows[tap.index * width * C];
      for (int64_t i = 0; i < width * C; ++i) line[i] += tap.weight * src[i];
    }
    for (int64_t i = 0; i < width * C; ++i) out.pixels[y * width * C + i] = round_to_u8(line[i]);
  }
  return out;
}

}  // namespace

Image resize_image(const Image& image, int64_t height, int64_t width) {
  BUSI_CHECK(height > 0 && width > 0, "resize_image: size must be positive, got ", height, "x",
             width);
  if (height == image.height && width == image.width) return image;
  return apply_filters(image, height, width, make_axis_filter(image.width, width),
                       make_axis_filter(image.height, height));
}

Image resample_image(const Image& image, int64_t height, int64_t width, ResampleFilter filter) {
  BUSI_CHECK(height > 0 && width > 0, "resample_image: size must be positive, got ", height, "x",
             width);
  return apply_filters(image, height, width, filter_for(filter, image.width, width),
                       filter_for(filter, image.height, height));
}

Image crop_image(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  BUSI_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= image.height &&
                 left + width <= image.width,
             "crop_image: rectangle ", height, "x", width, " at (", top, ", ", left,
             ") is not inside the ", image.height, "x", image.width, " image");
  Image out(height, width, image.channels);
  const int64_t row_bytes = width * image.channels;
  for (int64_t y = 0; y < height; ++y)
    std::copy_n(&image.pixels[((top + y) * image.width + left) * image.channels], row_bytes,
                &out.pixels[y * row_bytes]);
  return out;
}

void mirror_image(Image& image) {
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width / 2; ++x)
      for (int64_t c = 0; c < image.channels; ++c)
        std::swap(image.at(y, x, c), image.at(y, image.width - 1 - x, c));
}

}  // namespace busi::data
