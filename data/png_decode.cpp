// PNG decoding with stb_image (its implementation: stb_image_impl.cpp, PNG only), after the
// chunk check of image_checks.h: stb_image 2.27 sizes its buffer for a chunk by the length the
// chunk claims, before reading it.
#include <algorithm>
#include <cstring>
#include <memory>

#include <stb/stb_image.h>

#include "data/image_checks.h"
#include "data/image_codecs.h"
#include "kernels/common/error.h"

namespace busi::data::detail {

namespace {

// stb_image's reason for its last failure on this thread (it does not always give one).
const char* stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr && reason[0] != '\0' ? reason : "no reason given";
}

}  // namespace

bool is_png(const std::vector<uint8_t>& b) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), kSignature, 8) == 0;
}

ImageInfo png_info(const std::vector<uint8_t>& bytes, const std::string& name) {
  int width = 0, height = 0, channels = 0;
  const int ok = stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                       &height, &channels);
  BUSI_CHECK(ok, name, ": not a readable PNG image (stb_image: ", stb_reason(), ")");
  return {height, width, channels};
}

// stb_image turns RGB into grey as (77 R + 150 G + 29 B) / 256, repeats grey into R=G=B, and
// drops alpha.
Image png_decode(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name) {
  check_png_chunks(bytes, name);  // png_info stops at IHDR; decoding reads every chunk
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

}  // namespace busi::data::detail
