// stb_image's implementation, for PNG only (data/png_decode.cpp; JPEG goes to libjpeg-turbo),
// compiled here and nowhere else. A file of its own so that sanitizer builds can leave out
// UBSan's arithmetic checks for it (data/CMakeLists.txt) should stb_image's PNG code do what
// its JPEG code did on corrupt input, while AddressSanitizer still guards every memory access.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
