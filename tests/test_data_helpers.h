// Helpers shared by the data tests: a temporary folder removed at the end, and small PNG/JPEG
// files written with stb_image_write (its implementation is private to each test executable).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

namespace busi::data::testing {

namespace fs = std::filesystem;

// A fresh folder under the system's temporary directory, deleted with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("busi_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// pixel(y, x, c) -> value; written as (H, W, C) interleaved bytes.
using PixelFunction = std::function<uint8_t(int, int, int)>;

inline std::vector<uint8_t> make_pixels(int height, int width, int channels,
                                        const PixelFunction& pixel) {
  std::vector<uint8_t> bytes(static_cast<size_t>(height) * width * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) bytes[(y * width + x) * channels + c] = pixel(y, x, c);
  return bytes;
}

inline void write_png(const fs::path& path, int height, int width, int channels,
                      const PixelFunction& pixel) {
  fs::create_directories(path.parent_path());
  const std::vector<uint8_t> bytes = make_pixels(height, width, channels, pixel);
  if (!stbi_write_png(path.string().c_str(), width, height, channels, bytes.data(),
                      width * channels))
    throw std::runtime_error("test could not write " + path.string());
}

inline void write_jpeg(const fs::path& path, int height, int width, int channels,
                       const PixelFunction& pixel) {
  fs::create_directories(path.parent_path());
  const std::vector<uint8_t> bytes = make_pixels(height, width, channels, pixel);
  if (!stbi_write_jpg(path.string().c_str(), width, height, channels, bytes.data(), 95))
    throw std::runtime_error("test could not write " + path.string());
}

// A PNG of a constant grey value.
inline void write_flat_png(const fs::path& path, int size, uint8_t value, int channels = 3) {
  write_png(path, size, size, channels, [value](int, int, int) { return value; });
}

inline void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first half of a valid PNG: a truncated file.
inline void write_truncated_png(const fs::path& path, int size) {
  write_png(path, size, size, 3,
            [](int y, int x, int c) { return static_cast<uint8_t>(x * 7 + y * 3 + c); });
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2);
  write_bytes(path, bytes);
}

}  // namespace busi::data::testing
