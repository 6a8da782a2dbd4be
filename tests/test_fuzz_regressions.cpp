// Every input the fuzzers (fuzz/) found a problem with, read again here by the parser it broke:
// each must now be refused with a clear busi::Error, never a crash, a hang or an unbounded
// allocation. Each input is remade here from a file of our own, with the bytes that mattered
// set as the finding had them. tests/asan_tests.sh runs this file under AddressSanitizer and
// UBSan too.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/image.h"
#include "kernels/common/error.h"
#include "tests/test_data_helpers.h"
#include "tests/test_safetensors_helpers.h"

namespace fs = std::filesystem;
using busi::testing::read_bytes;

namespace {

std::vector<uint8_t> bytes_of(const fs::path& path) {
  const std::string s = read_bytes(path.string());
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace

// stb_image 2.27 wrote past its Huffman tables for a JPEG whose DHT segment has more than 256
// codes (fuzz_image found it three times: in place, after junk bytes stb_image skips, and in a
// file starting with a fill byte before its start-of-image marker), and read past them decoding
// other corrupt JPEGs; JPEG now goes to libjpeg-turbo. Remade here from a JPEG of our own: its
// first Huffman table's 16 counts set to 255 each.
enum class Variant { InPlace, JunkBefore, FillByteFirst };
std::vector<uint8_t> jpeg_with_oversized_huffman_table(Variant variant) {
  busi::testing::TempDir dir("fuzz-jpeg");
  const std::string path = dir.file("in.jpg");
  busi::data::testing::write_jpeg(path, 16, 16, 3, [](int y, int x, int c) {
    return static_cast<uint8_t>(y * 13 + x * 7 + c * 50);
  });
  std::vector<uint8_t> b = bytes_of(path);
  size_t dht = 2;
  while (dht + 1 < b.size() && !(b[dht] == 0xFF && b[dht + 1] == 0xC4)) ++dht;
  REQUIRE(dht + 21 < b.size());
  for (size_t i = 0; i < 16; ++i) b[dht + 5 + i] = 255;  // after FF C4, the length, the class byte
  if (variant == Variant::JunkBefore)
    b.insert(b.begin() + static_cast<ptrdiff_t>(dht), {0x00, 0x12, 0x34});
  if (variant == Variant::FillByteFirst) b.insert(b.begin(), 0xFF);
  return b;
}

TEST_CASE("fuzz finding, image: a JPEG Huffman table of more than 256 codes is refused") {
  for (Variant v : {Variant::InPlace, Variant::JunkBefore, Variant::FillByteFirst}) {
    INFO("variant " << static_cast<int>(v));
    CHECK_THROWS_WITH_AS(busi::data::decode_image(jpeg_with_oversized_huffman_table(v), 3, "x.jpg"),
                         doctest::Contains("x.jpg: cannot decode JPEG, corrupt or truncated"),
                         busi::Error);
  }
}

TEST_CASE("fuzz finding, image: a PNG claiming 2^32 x 2^32 pixels is refused, without overflow") {
  // The fuzzer's input, remade here: its IHDR claimed 0xfeffffff x 0xffffff7f pixels, whose
  // product overflowed int64 in the size check (UBSan: signed integer overflow).
  busi::testing::TempDir dir("fuzz-png");
  const std::string path = dir.file("huge.png");
  busi::data::testing::write_png_claiming(path, 0xffffff7fu, 0xfeffffffu);
  CHECK_THROWS_WITH_AS(busi::data::read_image_info(bytes_of(path), path),
                       doctest::Contains("claims 4278190079 x 4294967167 pixels"), busi::Error);
}

TEST_CASE("fuzz finding, image: a PNG chunk claiming more bytes than the file has is refused") {
  // The finding: a 116-byte PNG whose IDAT claimed 1 GiB, which stb_image allocated at once.
  busi::testing::TempDir dir("fuzz-idat");
  const std::string path = dir.file("in.png");
  busi::data::testing::write_png(
      path, 7, 5, 4, [](int y, int x, int c) { return static_cast<uint8_t>(y * 31 + x * 17 + c); });
  std::vector<uint8_t> b = bytes_of(path);
  const size_t idat = 8 + 12 + 13;  // after the signature and the IHDR chunk
  REQUIRE(std::string(b.begin() + idat + 4, b.begin() + idat + 8) == "IDAT");
  b[idat] = 0x3F, b[idat + 1] = b[idat + 2] = b[idat + 3] = 0xFF;
  CHECK_THROWS_WITH_AS(busi::data::decode_image(b, 3, "in.png"),
                       doctest::Contains("in.png: corrupt or truncated PNG: chunk 'IDAT' at byte "
                                         "33 claims 1073741823 bytes"),
                       busi::Error);
}
