// Image: an 8-bit picture in memory, (H, W, C) interleaved; reading files, decoding PNG/JPEG with
// stb_image, and resizing (bilinear when enlarging, area/box average when shrinking).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace busi::data {

struct Image {
  int64_t height = 0, width = 0, channels = 0;  // channels: 1 grey, 3 RGB (4 RGBA when stored so)
  std::vector<uint8_t> pixels;                  // (H, W, C), row-major, channels interleaved

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c) : height(h), width(w), channels(c), pixels(h * w * c) {}

  uint8_t& at(int64_t y, int64_t x, int64_t c) { return pixels[(y * width + x) * channels + c]; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[(y * width + x) * channels + c];
  }
};

// What a file's header says, without decoding the pixels.
struct ImageInfo {
  int64_t height = 0, width = 0, channels = 0;  // channels as stored (1 grey, 2 grey+alpha, 3, 4)
};

// The largest image the engine decodes, in pixels (width x height): 64 Mi (8,192 x 8,192) unless
// raised. A file whose header claims more is refused before a byte is decoded - a PNG of a few
// hundred KB can claim 30,000 x 30,000 pixels (2.6 GB decoded as RGB) - with an error naming the
// file and the size it claims. Process-wide; tools set it from --max-image-megapixels at start.
constexpr int64_t kDefaultMaxImagePixels = int64_t(8192) * 8192;
void set_max_image_pixels(int64_t pixels);
int64_t max_image_pixels();

// Decoding threads together hold at most this many bytes of decoded pixels (default 1 GiB): a
// decode waits until the images in flight leave it room (one image alone may always proceed).
void set_decode_memory_budget(int64_t bytes);
int64_t decode_memory_budget();

// The whole file as bytes. Throws busi::Error naming the file if it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Header of an encoded PNG/JPEG held in memory; `name` is used in the error message.
// Throws busi::Error("<name>: not a PNG or JPEG image (<stb_image's reason>)"), or when the
// header claims more pixels than max_image_pixels().
ImageInfo read_image_info(const std::vector<uint8_t>& bytes, const std::string& name);

// Decodes an encoded PNG/JPEG held in memory to `channels` (1 or 3) channels: stb_image turns
// RGB into grey as (77 R + 150 G + 29 B) / 256, repeats grey into R=G=B, and drops alpha.
// A corrupt or truncated file throws busi::Error naming `name` and stb_image's reason; so does
// one whose header claims more pixels than max_image_pixels(), before anything is decoded.
Image decode_image(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name);
// read_file_bytes + decode_image.
Image decode_image_file(const std::string& path, int64_t channels);

// How many images this process has decoded (decode_image calls that returned pixels): what the
// tests read to check that a run decodes each file once before its first epoch.
int64_t images_decoded();

// An RGB image (H, W, 3) as grey, by the rule the PNG decoder applies when asked for one channel
// (stb_image: (77 R + 150 G + 29 B) / 256, truncated): the same bytes as decoding the file as
// grey for 8-bit PNGs (BUSI's); for JPEG and 16-bit PNGs within a grey level of it. A grey image
// comes back as it is.
Image grey_like_decoder(const Image& image);

// Resizes to (height, width). Each axis on its own: bilinear interpolation when it grows,
// area (box) averaging when it shrinks (every source pixel counts in proportion to how much of it
// an output pixel covers, so shrinking does not alias). Equal sizes return an exact copy.
Image resize_image(const Image& image, int64_t height, int64_t width);

// The resampling filters other programs use for thumbnails (PIL's Image.resize, OpenCV's
// resize), for near-duplicate checks that must not depend on which one made a thumbnail:
//   Box       PIL's BOX: the mean of the source pixels whose centres fall in the output pixel;
//   Bilinear  PIL's BILINEAR: a triangle filter widened by the shrink factor (antialiased);
//   Lanczos3  PIL's LANCZOS: sinc(x) sinc(x / 3), likewise widened;
//   BilinearPoint  OpenCV's INTER_LINEAR, torchvision without antialias: the two nearest source
//                  pixels, whatever the shrink (aliases, as those do).
enum class ResampleFilter { Box, Bilinear, Lanczos3, BilinearPoint };
// One grey or colour image resampled to (height, width) with `filter`, rounded to uint8.
Image resample_image(const Image& image, int64_t height, int64_t width, ResampleFilter filter);

// The rectangle [top, top + height) x [left, left + width), which must lie inside the image.
Image crop_image(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);

// Mirrors the image left to right in place, every channel (the test-time flip).
void mirror_image(Image& image);

}  // namespace busi::data
