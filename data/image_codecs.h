// The two decoders behind data/image.h (internal to data/): PNG by stb_image (png_decode.cpp)
// and JPEG by libjpeg-turbo (jpeg_decode.cpp). Each reads a header or decodes to 1 or 3 channels
// and throws busi::Error naming the file; image.cpp calls them after its size checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace busi::data::detail {

bool is_png(const std::vector<uint8_t>& bytes);   // the 8-byte PNG signature
bool is_jpeg(const std::vector<uint8_t>& bytes);  // FF D8 (after fill bytes FF)

ImageInfo png_info(const std::vector<uint8_t>& bytes, const std::string& name);
Image png_decode(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name);
ImageInfo jpeg_info(const std::vector<uint8_t>& bytes, const std::string& name);
Image jpeg_decode(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name);

}  // namespace busi::data::detail
