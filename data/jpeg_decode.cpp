// JPEG decoding with libjpeg-turbo (the libjpeg API), which fuzzing has hardened for years;
// stb_image 2.27 read and wrote outside its tables on corrupt JPEGs (docs/hostile_inputs.md).
// libjpeg reports errors by calling error_exit, which here jumps back (longjmp) to the decode
// and becomes a busi::Error; its warnings (corrupt data, a file that ends early, which it would
// decode with grey padding) are errors too. Only C objects and objects made before setjmp live
// across the jump, so no C++ destructor is skipped.
#include <csetjmp>
#include <cstdio>
#include <string>

#include "data/image_codecs.h"
#include "kernels/common/error.h"

#ifdef BUSI_WITH_LIBJPEG
#include <jpeglib.h>
#endif

namespace busi::data::detail {

bool is_jpeg(const std::vector<uint8_t>& b) {
  size_t at = 0;
  while (at < b.size() && b[at] == 0xFF) ++at;
  return at >= 1 && at < b.size() && b[at] == 0xD8;
}

#ifdef BUSI_WITH_LIBJPEG

namespace {

struct ErrorManager {
  jpeg_error_mgr base;  // first: libjpeg hands out a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr info) {
  ErrorManager* e = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (level -1) fail the decode like errors; trace messages (level >= 0) are dropped.
void on_message(j_common_ptr info, int level) {
  if (level < 0) on_error(info);
}

// Reads the header, then decodes when `out` is given. Returns the header's size and channels.
ImageInfo read_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, int64_t channels,
                    Image* out) {
  jpeg_decompress_struct info;
  ErrorManager errors;
  ImageInfo header;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error;
  errors.base.emit_message = on_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    throw Error(name + ": cannot decode JPEG, corrupt or truncated (libjpeg: " + errors.message +
                ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  header.height = info.image_height;
  header.width = info.image_width;
  header.channels = info.num_components;
  if (out) {
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
      jpeg_destroy_decompress(&info);
      throw Error(name + ": a CMYK JPEG, which the engine does not read (convert it to RGB)");
    }
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    out->height = info.output_height;
    out->width = info.output_width;
    out->channels = channels;
    out->pixels.resize(static_cast<size_t>(out->height * out->width * channels));
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = out->pixels.data() + size_t(info.output_scanline) * out->width * channels;
      jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
  }
  jpeg_destroy_decompress(&info);
  return header;
}

}  // namespace

ImageInfo jpeg_info(const std::vector<uint8_t>& bytes, const std::string& name) {
  return read_jpeg(bytes, name, 0, nullptr);
}

// libjpeg turns colour into grey by taking the luma of its YCbCr (0.299 R + 0.587 G +
// 0.114 B), and repeats grey into R=G=B.
Image jpeg_decode(const std::vector<uint8_t>& bytes, int64_t channels, const std::string& name) {
  Image image;
  read_jpeg(bytes, name, channels, &image);
  return image;
}

#else

ImageInfo jpeg_info(const std::vector<uint8_t>&, const std::string& name) {
  throw Error(name +
              ": a JPEG, but this build has no JPEG decoder (libjpeg-turbo was not found: "
              "apt-get install libjpeg62-turbo-dev, then rebuild)");
}
Image jpeg_decode(const std::vector<uint8_t>& bytes, int64_t, const std::string& name) {
  jpeg_info(bytes, name);
  return Image();
}

#endif

}  // namespace busi::data::detail
