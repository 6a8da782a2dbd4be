// Decoding (grey, RGB, RGBA, JPEG, odd sizes, bad files) and resizing of data/image.h.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "data/dataset.h"
#include "data/image.h"
#include "kernels/common/error.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;
using busi::Error;

namespace {

// A pattern where every pixel and channel differs: value = (11 y + 5 x + 80 c) mod 256.
uint8_t pattern(int y, int x, int c) {
  return static_cast<uint8_t>((11 * y + 5 * x + 80 * c) % 256);
}

// "<prefix><i>.png" (appended, not concatenated: GCC 12 warns wrongly on a + b + c here).
std::string numbered(const char* prefix, int i) {
  std::string name(prefix);
  name.append(std::to_string(i)).append(".png");
  return name;
}

}  // namespace

TEST_CASE("decode: grey, RGB and RGBA PNGs to 1 or 3 channels, odd sizes") {
  TempDir dir("image_decode");
  write_png(dir.path() / "grey.png", 7, 13, 1, pattern);
  write_png(dir.path() / "rgb.png", 9, 5, 3, pattern);
  write_png(dir.path() / "rgba.png", 3, 11, 4, pattern);

  const Image grey = decode_image_file((dir.path() / "grey.png").string(), 1);
  CHECK(grey.height == 7);
  CHECK(grey.width == 13);
  CHECK(grey.channels == 1);
  CHECK(grey.at(6, 12, 0) == pattern(6, 12, 0));

  // Grey repeated into R = G = B.
  const Image grey3 = decode_image_file((dir.path() / "grey.png").string(), 3);
  CHECK(grey3.channels == 3);
  for (int c = 0; c < 3; ++c) CHECK(grey3.at(4, 2, c) == pattern(4, 2, 0));

  const Image rgb = decode_image_file((dir.path() / "rgb.png").string(), 3);
  CHECK(rgb.height == 9);
  CHECK(rgb.width == 5);
  bool all_equal = true;
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) all_equal &= rgb.at(y, x, c) == pattern(y, x, c);
  CHECK(all_equal);

  // RGB -> grey is stb_image's (77 R + 150 G + 29 B) >> 8.
  const Image rgb_as_grey = decode_image_file((dir.path() / "rgb.png").string(), 1);
  const int expected =
      (77 * pattern(2, 3, 0) + 150 * pattern(2, 3, 1) + 29 * pattern(2, 3, 2)) >> 8;
  CHECK(rgb_as_grey.at(2, 3, 0) == expected);

  // RGBA: alpha dropped, colour kept.
  const Image rgba = decode_image_file((dir.path() / "rgba.png").string(), 3);
  CHECK(rgba.channels == 3);
  CHECK(rgba.at(2, 10, 2) == pattern(2, 10, 2));
}

TEST_CASE("decode: JPEG is accepted (lossy, so values are close, not equal)") {
  TempDir dir("image_jpeg");
  write_jpeg(dir.path() / "flat.jpg", 16, 16, 3, [](int, int, int) { return uint8_t{120}; });
  const Image image = decode_image_file((dir.path() / "flat.jpg").string(), 1);
  CHECK(image.height == 16);
  CHECK(image.width == 16);
  CHECK(std::abs(int(image.at(8, 8, 0)) - 120) <= 2);
}

TEST_CASE("decode: bad files give an error naming the file and the problem") {
  TempDir dir("image_bad");
  const fs::path zero = dir.path() / "zero.png", junk = dir.path() / "junk.png",
                 cut = dir.path() / "cut.png", missing = dir.path() / "missing.png";
  write_bytes(zero, {});
  write_bytes(junk, std::vector<uint8_t>(300, 0x5a));
  write_truncated_png(cut, 32);

  const std::string zero_error = error_of([&] { decode_image_file(zero.string(), 3); });
  CHECK(zero_error.find(zero.string()) != std::string::npos);
  CHECK(zero_error.find("zero-byte") != std::string::npos);

  const std::string junk_error = error_of([&] { decode_image_file(junk.string(), 3); });
  CHECK(junk_error.find(junk.string()) != std::string::npos);
  CHECK(junk_error.find("not a PNG or JPEG image") != std::string::npos);

  const std::string cut_error = error_of([&] { decode_image_file(cut.string(), 3); });
  CHECK(cut_error.find(cut.string()) != std::string::npos);
  CHECK(cut_error.find("corrupt or truncated") != std::string::npos);

  // A JPEG cut in half fails too (stb_image expects the end-of-image marker).
  const fs::path cut_jpeg = dir.path() / "cut.jpg";
  write_jpeg(cut_jpeg, 32, 32, 3, pattern);
  std::vector<uint8_t> jpeg_bytes = read_bytes(cut_jpeg);
  jpeg_bytes.resize(jpeg_bytes.size() / 2);
  write_bytes(cut_jpeg, jpeg_bytes);
  const std::string cut_jpeg_error = error_of([&] { decode_image_file(cut_jpeg.string(), 1); });
  CHECK(cut_jpeg_error.find(cut_jpeg.string()) != std::string::npos);

  const std::string missing_error = error_of([&] { decode_image_file(missing.string(), 3); });
  CHECK(missing_error.find(missing.string()) != std::string::npos);
  CHECK(missing_error.find("cannot open") != std::string::npos);

  // The header check alone already rejects junk.
  CHECK_THROWS_AS(read_image_info(read_file_bytes(junk.string()), "junk"), busi::Error);
}

TEST_CASE("resize: equal size is an exact copy") {
  Image image(5, 7, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 37);
  CHECK(resize_image(image, 5, 7).pixels == image.pixels);
}

TEST_CASE("resize: bilinear when enlarging") {
  // Row [0, 100] to 4 pixels: output centres fall at source x = -0.25, 0.25, 0.75, 1.25
  // (edges clamp), so the values are 0, 25, 75, 100.
  Image image(1, 2, 1);
  image.pixels = {0, 100};
  const Image out = resize_image(image, 1, 4);
  CHECK(out.pixels == std::vector<uint8_t>{0, 25, 75, 100});
}

TEST_CASE("resize: area average when shrinking") {
  // 4x4 -> 2x2: each output is the mean of a 2x2 block.
  Image image(4, 4, 1);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) image.at(y, x, 0) = static_cast<uint8_t>(10 * (4 * y + x));
  const Image half = resize_image(image, 2, 2);
  CHECK(half.pixels == std::vector<uint8_t>{25, 45, 105, 125});

  // 3 -> 2 pixels: output 0 covers pixel 0 and half of pixel 1: (2 a + b) / 3.
  Image row(1, 3, 1);
  row.pixels = {0, 30, 60};
  CHECK(resize_image(row, 1, 2).pixels == std::vector<uint8_t>{10, 50});

  // A flat image stays flat at any size, up or down, in both axes at once.
  Image flat(40, 30, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 77);
  const Image mixed = resize_image(flat, 17, 61);
  CHECK(std::all_of(mixed.pixels.begin(), mixed.pixels.end(), [](uint8_t v) { return v == 77; }));
}

TEST_CASE("resample: the other programs' thumbnail filters, worked by hand") {
  // A row 0, 10, ..., 70 to 2 pixels (4 source pixels per output; centres at 2 and 6).
  Image row(1, 8, 1);
  for (int x = 0; x < 8; ++x) row.pixels[x] = static_cast<uint8_t>(10 * x);
  // Box: the mean of the 4 pixels whose centres fall in the output pixel.
  CHECK(resample_image(row, 1, 2, ResampleFilter::Box).pixels == std::vector<uint8_t>{15, 55});
  // Antialiased bilinear: a triangle 4 pixels wide each side. Output 0 takes pixels 0..5 with
  // weights .625 .875 .875 .625 .375 .125 (sum 3.5): 66.25 / 3.5 = 18.9; output 1 takes 2..7 with
  // .125 .375 .625 .875 .875 .625: 178.75 / 3.5 = 51.1.
  CHECK(resample_image(row, 1, 2, ResampleFilter::Bilinear).pixels == std::vector<uint8_t>{19, 51});
  // Bilinear without antialiasing: the two pixels around each centre, half each.
  CHECK(resample_image(row, 1, 2, ResampleFilter::BilinearPoint).pixels ==
        std::vector<uint8_t>{15, 55});
  // Lanczos-3 on a ramp 0, 2, 4, ... of 64 pixels to 8: an output whose taps lie inside the row
  // is the ramp at its centre (a symmetric kernel, weights summing to 1): output 3, centre 28
  // (pixels 4 to 51), value 2 * 27.5 = 55.
  Image ramp(1, 64, 1);
  for (int x = 0; x < 64; ++x) ramp.pixels[x] = static_cast<uint8_t>(2 * x);
  CHECK(resample_image(ramp, 1, 8, ResampleFilter::Lanczos3).pixels[3] == 55);
  // Every filter keeps a flat image flat, shrinking and growing, grey or colour.
  Image flat(40, 30, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 77);
  for (ResampleFilter f : {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Lanczos3,
                           ResampleFilter::BilinearPoint}) {
    const Image out = resample_image(flat, 17, 61, f);
    CHECK(std::all_of(out.pixels.begin(), out.pixels.end(), [](uint8_t v) { return v == 77; }));
  }
}

TEST_CASE("crop: copies the rectangle, rejects one outside the image") {
  Image image(4, 5, 1);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) image.at(y, x, 0) = static_cast<uint8_t>(10 * y + x);
  const Image crop = crop_image(image, 1, 2, 2, 3);
  CHECK(crop.pixels == std::vector<uint8_t>{12, 13, 14, 22, 23, 24});
  CHECK_THROWS_AS(crop_image(image, 3, 0, 2, 2), busi::Error);
}

TEST_CASE("mirror: left and right swap in every row and channel; twice gives the image back") {
  Image image(2, 3, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 2; ++c) image.at(y, x, c) = static_cast<uint8_t>(100 * c + 10 * y + x);
  Image mirrored = image;
  mirror_image(mirrored);
  CHECK(mirrored.pixels == std::vector<uint8_t>{2, 102, 1, 101, 0, 100, 12, 112, 11, 111, 10, 110});
  mirror_image(mirrored);
  CHECK(mirrored.pixels == image.pixels);
}

TEST_CASE("decode: an image whose header claims too many pixels is refused before decoding") {
  TempDir dir("image-limit");
  const fs::path huge = dir.path() / "huge.png";
  write_png_claiming(huge, 30000, 30000);
  const std::vector<uint8_t> bytes = read_bytes(huge);
  REQUIRE(max_image_pixels() == kDefaultMaxImagePixels);
  const auto start = std::chrono::steady_clock::now();
  const std::string expected = huge.string() +
                               ": the image claims 30000 x 30000 pixels (858.3 megapixels), over "
                               "the limit of 64.0 megapixels; raise it with --max-image-megapixels";
  CHECK_THROWS_WITH_AS(decode_image(bytes, 3, huge.string()), doctest::Contains(expected.c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(read_image_info(bytes, huge.string()),
                       doctest::Contains("claims 30000 x 30000 pixels"), Error);
  MESSAGE(
      "refused in "
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()
      << " ms");
  // The limit itself: 8192 x 8192 passes the header check, one row more does not.
  write_png_claiming(dir.path() / "edge.png", 8192, 8192);
  CHECK(read_image_info(read_bytes(dir.path() / "edge.png"), "edge.png").width == 8192);
  write_png_claiming(dir.path() / "over.png", 8193, 8192);
  CHECK_THROWS_AS(read_image_info(read_bytes(dir.path() / "over.png"), "over.png"), Error);
  // Raised, the header passes (decoding would then be the decoder's job).
  set_max_image_pixels(int64_t(1) << 30);
  CHECK(read_image_info(bytes, "huge.png").height == 30000);
  set_max_image_pixels(kDefaultMaxImagePixels);
  CHECK_THROWS_AS(set_max_image_pixels(0), Error);
}

TEST_CASE("scan: an oversized image is an error naming it, or skipped with a warning") {
  TempDir dir("scan-limit");
  for (const char* cls : {"benign", "malignant"})
    for (int i = 0; i < 2; ++i) write_flat_png(dir.path() / cls / numbered("img", i), 8, 100);
  write_png_claiming(dir.path() / "benign" / "giant.png", 60000, 60000);
  ScanOptions strict;
  CHECK_THROWS_WITH_AS(scan_folder(dir.path().string(), strict),
                       doctest::Contains("giant.png: the image claims 60000 x 60000 pixels"),
                       Error);
  ScanOptions skip;
  skip.skip_bad = true;
  const DatasetIndex index = scan_folder(dir.path().string(), skip);
  CHECK(index.samples.size() == 4);
  CHECK(index.warnings_text().find("giant.png") != std::string::npos);
}

TEST_CASE("decode: the decoding threads share a memory budget, and never wait on one image") {
  TempDir dir("decode-budget");
  std::vector<std::vector<uint8_t>> files;
  for (int i = 0; i < 8; ++i) {
    write_flat_png(dir.path() / numbered("f", i), 64, uint8_t(10 * i));
    files.push_back(read_bytes(dir.path() / numbered("f", i)));
  }
  const int64_t previous = decode_memory_budget();
  set_decode_memory_budget(1);  // smaller than any image: they decode one at a time
  std::vector<int> values(files.size(), -1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < files.size(); ++i)
    threads.emplace_back([&, i] { values[i] = decode_image(files[i], 1, "f").pixels[0]; });
  for (std::thread& t : threads) t.join();
  set_decode_memory_budget(previous);
  for (size_t i = 0; i < files.size(); ++i) CHECK(values[i] == int(10 * i));
}
