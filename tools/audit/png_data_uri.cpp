// PNG encoding to memory (stb_image_write, private to this file) and base64 (see png_data_uri.h).
#include "tools/audit/png_data_uri.h"

#include <cstdint>
#include <vector>

#include "kernels/common/error.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace busi::tools {

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

// RFC 4648 base64: every 3 bytes become 4 characters of 6 bits each, '=' pads the last group.
std::string base64(const std::vector<uint8_t>& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t a = bytes[i], b = i + 1 < bytes.size() ? bytes[i + 1] : 0,
                   c = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const uint32_t triple = (a << 16) | (b << 8) | c;
    out += digits[(triple >> 18) & 63];
    out += digits[(triple >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(triple >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? digits[triple & 63] : '=';
  }
  return out;
}

}  // namespace

std::string png_data_uri(const data::Image& image) {
  BUSI_CHECK(image.channels == 1 || image.channels == 3, "png_data_uri: 1 or 3 channels, got ",
             image.channels);
  std::vector<uint8_t> png;
  const int ok =
      stbi_write_png_to_func(append_bytes, &png, static_cast<int>(image.width),
                             static_cast<int>(image.height), static_cast<int>(image.channels),
                             image.pixels.data(), static_cast<int>(image.width * image.channels));
  BUSI_CHECK(ok != 0 && !png.empty(), "png_data_uri: PNG encoding failed");
  return "data:image/png;base64," + base64(png);
}

}  // namespace busi::tools
