// The checks of image_checks.h and the limits of image.h: the claimed size, the decoding memory
// budget, the PNG chunk structure.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "data/image.h"
#include "data/image_checks.h"
#include "kernels/common/error.h"

namespace busi::data {

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

// The size a PNG or JPEG header claims, read here rather than by stb_image, which refuses
// images over 2^30 bytes with only "unknown image type": a file claiming too much must be
// named for what it is. PNG: width and height are the big-endian words at bytes 16 and 20 (the
// IHDR chunk, first after the 8-byte signature). JPEG: the first start-of-frame segment
// (markers C0..CF but C4, C8, CC) holds precision (1 byte), height and width (2 each).

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

namespace detail {

BudgetHold::BudgetHold(int64_t bytes) : bytes_(bytes) { budget().acquire(bytes_); }
BudgetHold::~BudgetHold() { budget().release(bytes_); }

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

}  // namespace detail

}  // namespace busi::data
