// Reading, decoding (stb_image, compiled here and nowhere else) and resizing of 8-bit images.
#include "data/image.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "kernels/common/error.h"

// stb_image's implementation lives in this file only. STB_IMAGE_STATIC keeps its symbols private
// to this file, so linking the prebuilt libstb as well can never give duplicate symbols; the
// formats are limited to the two the dataset may hold.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#include <stb/stb_image.h>

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

// stb_image's reason for its last failure on this thread (it does not always give one).
static const char* stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr && reason[0] != '\0' ? reason : "no reason given";
}

// ---- Limits -------------------------------------------------------------------------------------

namespace {

std::atomic<int64_t> g_max_pixels{kDefaultMaxImagePixels};

// The decoded bytes in flight, against the budget: a counting semaphore in bytes.
class DecodeBudget {
 public:
  void set(int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    budget_ = bytes;
    room_.notify_all();
  }
  int64_t get() {
    std::lock_guard<std::mutex> lock(mutex_);
    return budget_;
  }
  // Waits until `bytes` fit beside what is in flight (or nothing is in flight), then takes them.
  void acquire(int64_t bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return in_flight_ == 0 || in_flight_ + bytes <= budget_; });
    in_flight_ += bytes;
  }
  void release(int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_ -= bytes;
    room_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable room_;
  int64_t budget_ = int64_t(1) << 30, in_flight_ = 0;
};

DecodeBudget& budget() {
  static DecodeBudget* b = new DecodeBudget;  // never destroyed: loader threads may outlive main
  return *b;
}

// Holds `bytes` of the budget for its scope.
class BudgetHold {
 public:
  explicit BudgetHold(int64_t bytes) : bytes_(bytes) { budget().acquire(bytes_); }
  ~BudgetHold() { budget().release(bytes_); }
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;

 private:
  int64_t bytes_;
};

// The size a PNG or JPEG header claims, read here rather than by stb_image, which refuses
// images over 2^30 bytes with only "unknown image type": a file claiming too much must be
// named for what it is. PNG: width and height are the big-endian words at bytes 16 and 20 (the
// IHDR chunk, first after the 8-byte signature). JPEG: the first start-of-frame segment
// (markers C0..CF but C4, C8, CC) holds precision (1 byte), height and width (2 each).
bool claimed_size(const std::vector<uint8_t>& b, int64_t& width, int64_t& height) {
  auto be16 = [&](size_t at) { return int64_t(b[at]) << 8 | b[at + 1]; };
  auto be32 = [&](size_t at) { return be16(at) << 16 | be16(at + 2); };
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 24 && std::memcmp(b.data(), kPng, 8) == 0 &&
      std::memcmp(&b[12], "IHDR", 4) == 0) {
    width = be32(16);
    height = be32(20);
    return true;
  }
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  size_t at = 2;
  while (at + 4 <= b.size() && b[at] == 0xFF) {
    const uint8_t marker = b[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9)) {  // no length
      at += 2;
      continue;
    }
    const bool frame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) {
      if (at + 9 > b.size()) return false;
      height = be16(at + 5);
      width = be16(at + 7);
      return true;
    }
    at += 2 + static_cast<size_t>(be16(at + 2));
  }
  return false;
}

// stb_image 2.27 (the version Debian 12 ships) builds a JPEG Huffman table from the code counts
// of a DHT segment without checking that they add up to at most 256, and then writes past its
// 257-entry arrays (found by fuzz/fuzz_image.cpp; later stb_image versions check). So the DHT
// segments are checked here first, walking the file the way stb_image does: bytes that are not
// a marker are skipped up to the next 0xFF; a DHT segment of length L holds tables while L > 0,
// each a class/id byte, 16 counts and that many symbols (read as 0 past the end of the file, as
// stb_image reads them); a scan (SOS) runs to the next marker, since DHT segments may also come
// between the scans of a progressive JPEG.
void check_jpeg_huffman_tables(const std::vector<uint8_t>& b, const std::string& name) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return;
  auto at_or_zero = [&](size_t i) -> size_t { return i < b.size() ? b[i] : 0; };
  size_t at = 2;
  while (at + 1 < b.size()) {
    if (b[at] != 0xFF) {  // not a marker: stb_image looks for the next one
      ++at;
      continue;
    }
    const uint8_t marker = b[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD9) return;  // end of image
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      at += 2;
      continue;
    }
    const int64_t length = int64_t(at_or_zero(at + 2) << 8 | at_or_zero(at + 3));
    if (marker == 0xC4) {
      size_t p = at + 4;
      for (int64_t left = length - 2; left > 0;) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += at_or_zero(p + i);
        BUSI_CHECK(codes <= 256, name, ": corrupt JPEG: the Huffman table at byte ", p, " defines ",
                   codes, " codes (at most 256)");
        left -= 17 + static_cast<int64_t>(codes);
        p += 17 + codes;
      }
    }
    at += 2 + static_cast<size_t>(length < 2 ? 2 : length);
    if (marker == 0xDA)  // a scan: entropy-coded data up to the next marker (FF 00 is data)
      while (at + 1 < b.size() &&
             !(b[at] == 0xFF && b[at + 1] != 0 && !(b[at + 1] >= 0xD0 && b[at + 1] <= 0xD7)))
        ++at;
  }
}

// stb_image grows its buffer for a PNG chunk to the length the chunk claims before it reads the
// chunk: a 116-byte file claiming a 1 GiB IDAT made it allocate 1 GiB (found by
// fuzz/fuzz_image.cpp). So every chunk (length, type, data, CRC: 12 + length bytes) must fit in
// the bytes left, checked here first.
void check_png_chunks(const std::vector<uint8_t>& b, const std::string& name) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() < 8 || std::memcmp(b.data(), kPng, 8) != 0) return;
  for (size_t at = 8; at + 8 <= b.size();) {
    const uint64_t length =
        uint64_t(b[at]) << 24 | uint64_t(b[at + 1]) << 16 | uint64_t(b[at + 2]) << 8 | b[at + 3];
    const std::string type(reinterpret_cast<const char*>(&b[at + 4]), 4);
    BUSI_CHECK(12 + length <= b.size() - at, name, ": corrupt or truncated PNG: chunk '", type,
               "' at byte ", at, " claims ", length, " bytes, but only ", b.size() - at,
               " bytes are left");
    if (type == "IEND") return;
    at += 12 + length;
  }
}

// width and height are at most 2^32 - 1 each (the header fields are 32-bit): their product is
// compared without forming it, which could overflow (found by fuzz/fuzz_image.cpp).
void check_claimed_size(int64_t width, int64_t height, const std::string& name) {
  const int64_t limit = g_max_pixels.load();
  if (width == 0 || height <= limit / width) return;
  const double pixels = double(width) * double(height);
  char text[160];
  std::snprintf(text, sizeof text,
                ": the image claims %lld x %lld pixels (%.1f megapixels), over the limit of %.1f "
                "megapixels; raise it with --max-image-megapixels",
                static_cast<long long>(width), static_cast<long long>(height), pixels / 1048576.0,
                limit / 1048576.0);
  throw Error(name + text);
}

}  // namespace

void set_max_image_pixels(int64_t pixels) {
  BUSI_CHECK(pixels > 0, "the image size limit must be positive, not ", pixels);
  g_max_pixels = pixels;
}
int64_t max_image_pixels() { return g_max_pixels.load(); }

void set_decode_memory_budget(int64_t bytes) {
  BUSI_CHECK(bytes > 0, "the decode memory budget must be positive, not ", bytes);
  budget().set(bytes);
}
int64_t decode_memory_budget() { return budget().get(); }

// ---- Decoding -----------------------------------------------------------------------------------

static void check_not_empty(const std::vector<uint8_t>& bytes, const std::string& name) {
  BUSI_CHECK(!bytes.empty(), name, ": zero-byte file (not an image)");
  BUSI_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), name, ": file too large for stb_image");
}

ImageInfo read_image_info(const std::vector<uint8_t>& bytes, const std::string& name) {
  check_not_empty(bytes, name);
  int64_t claimed_width = 0, claimed_height = 0;
  if (claimed_size(bytes, claimed_width, claimed_height))
    check_claimed_size(claimed_width, claimed_height, name);
  check_jpeg_huffman_tables(bytes, name);  // stb_image builds the tables for the header already
  int width = 0, height = 0, channels = 0;
  const int ok = stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                       &height, &channels);
  BUSI_CHECK(ok, name, ": not a PNG or JPEG image (stb_image: ", stb_reason(), ")");
  check_claimed_size(width, height, name);
  return {height, width, channels};
}

Image decode_image(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name) {
  BUSI_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ",
             channels);
  // The header first: nothing is decoded for an image over the size limit, and the decode
  // waits for room in the budget (stb_image holds the pixels as stored and as asked for).
  const ImageInfo info = read_image_info(bytes, name);
  check_png_chunks(bytes, name);  // the header read stops at IHDR; decoding reads every chunk
  const BudgetHold hold(info.height * info.width * (info.channels + channels));
  int width = 0, height = 0, stored_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height,
                            &stored_channels, static_cast<int>(channels)),
      &stbi_image_free);
  BUSI_CHECK(decoded != nullptr, name,
             ": cannot decode image, corrupt or truncated (stb_image: ", stb_reason(), ")");
  Image image(height, width, channels);
  std::copy_n(decoded.get(), image.pixels.size(), image.pixels.begin());
  return image;
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

}  // namespace

Image resize_image(const Image& image, int64_t height, int64_t width) {
  BUSI_CHECK(height > 0 && width > 0, "resize_image: size must be positive, got ", height, "x",
             width);
  if (height == image.height && width == image.width) return image;
  const int64_t C = image.channels;
  const AxisFilter along_x = make_axis_filter(image.width, width);
  const AxisFilter along_y = make_axis_filter(image.height, height);

  // Pass 1, along x: (H_in, W_out, C) in float, so pass 2 rounds only once.
  std::vector<float> rows(image.height * width * C, 0.0f);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (const Tap& tap : along_x[x])
        for (int64_t c = 0; c < C; ++c)
          rows[(y * width + x) * C + c] += tap.weight * image.at(y, tap.index, c);

  // Pass 2, along y: (H_out, W_out, C).
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

}  // namespace busi::data
