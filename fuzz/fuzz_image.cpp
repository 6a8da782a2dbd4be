// Fuzz target: image headers and decoding through the engine's wrapper (data/image.h), PNG and
// JPEG by stb_image, with the size limit lowered so that a claimed size is refused quickly.
#include <cstdint>

#include "data/image.h"
#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  busi::data::set_max_image_pixels(int64_t(1) << 22);  // 4 Mi pixels: bounded work per input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes = busi::fuzz::bytes(data, size);
  try {
    const busi::data::ImageInfo info = busi::data::read_image_info(bytes, "input");
    const busi::data::Image grey = busi::data::decode_image(bytes, 1, "input");
    const busi::data::Image rgb = busi::data::decode_image(bytes, 3, "input");
    // What the header said is what was decoded.
    if (grey.height != info.height || grey.width != info.width ||
        rgb.pixels.size() != grey.pixels.size() * 3)
      __builtin_trap();
    busi::data::resize_image(rgb, 7, 5);
  } catch (const busi::Error&) {
  }
  return 0;
}
