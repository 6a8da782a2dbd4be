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
#include "weights/pickle_reader.h"

#ifdef BUSI_WITH_HDF5
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>

#include "tests/h5_writer.h"
#include "weights/hdf5_heap_check.h"
#include "weights/keras_h5.h"
#endif

namespace fs = std::filesystem;
using busi::testing::read_bytes;

namespace {

std::vector<uint8_t> bytes_of(const fs::path& path) {
  const std::string s = read_bytes(path.string());
  return std::vector<uint8_t>(s.begin(), s.end());
}

#ifdef BUSI_WITH_HDF5
// What a call cost: its wall time and how much it raised the process's peak memory.
struct Cost {
  double seconds = 0;
  long peak_growth_mib = 0;
};
template <class Call>
Cost cost_of(Call call) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const auto start = std::chrono::steady_clock::now();
  call();
  Cost cost;
  cost.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  cost.peak_growth_mib = (after.ru_maxrss - before.ru_maxrss) / 1024;  // ru_maxrss is in KiB
  return cost;
}
#endif

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

// Hooks that allow no global and no persistent id: the pickles below need neither.
struct NoHooks : busi::weights::pickle::Hooks {
  bool allowed(const std::string&) const override { return false; }
  std::string allowed_list() const override { return "none"; }
  busi::weights::pickle::ValuePtr call(const std::string&, const busi::weights::pickle::Value&,
                                       uint64_t) override {
    return nullptr;
  }
  busi::weights::pickle::ValuePtr persistent_load(const busi::weights::pickle::Value&,
                                                  uint64_t) override {
    return nullptr;
  }
};

TEST_CASE("fuzz finding, torch_checkpoint: a container put inside itself is refused, no leak") {
  // The finding (LeakSanitizer): a pickle whose empty dict, fetched back from the memo, was made
  // a key and value of itself (`}q\x04(h\x04h\x04u`): a reference cycle, never freed. Remade
  // here in three forms: that dict, a list appended to itself, and two lists in each other.
  const std::vector<std::pair<std::string, std::string>> pickles = {
      {std::string("\x80\x02}q\x00(h\x00h\x00u.", 12), "a dict would contain itself"},
      {std::string("\x80\x02]q\x00h\x00"
                   "a.",
                   9),
       "a list would contain itself"},
      {std::string("\x80\x02]q\x00]q\x01h\x00"
                   "aa.",
                   13),
       "a list would contain itself"}};
  for (const auto& [bytes, message] : pickles) {
    CAPTURE(message);
    NoHooks hooks;
    CHECK_THROWS_WITH_AS(busi::weights::pickle::read(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                     bytes.size(), {"cycle.pkl", 0}, hooks),
                         doctest::Contains(message.c_str()), busi::Error);
  }
  // A value shared without a cycle (one list twice in a tuple, through the memo) still reads.
  const std::string shared("\x80\x02]q\x00h\x00\x86.", 9);  // EMPTY_LIST, BINGET, TUPLE2
  NoHooks hooks;
  const auto value = busi::weights::pickle::read(reinterpret_cast<const uint8_t*>(shared.data()),
                                                 shared.size(), {"shared.pkl", 0}, hooks);
  REQUIRE(value->items.size() == 2);
  CHECK(value->items[0] == value->items[1]);
}

#ifdef BUSI_WITH_HDF5
TEST_CASE("fuzz finding, keras_h5: a superblock pointing at a 4 GiB driver block is refused fast") {
  // The finding: the superblock (version 0) of a Keras file of ours, its driver-information
  // block address (bytes 48..55) set from "undefined" to 29, where the bytes then read as a
  // block of 2^32 - 1 bytes. libhdf5 1.10 reallocated 4 GiB (4294967311 bytes) inside H5Fopen
  // and zeroed it: 11 s and 4.2 GB of memory for a 22 kB file. The reader now caps the memory
  // the library may take (weights/address_space_cap.h), so the allocation fails at once.
  busi::testing::TempDir dir("fuzz-h5");
  const std::string path = dir.file("notop.h5");
  {
    busi::testing::H5Writer h5(path);
    h5.conv_layer("block1_conv1", 3, 3, 3, 64);
  }
  std::vector<uint8_t> b = bytes_of(path);
  REQUIRE(b.size() > 64);
  REQUIRE(std::string(b.begin() + 1, b.begin() + 4) == "HDF");
  REQUIRE(b[8] == 0);  // superblock version 0: the driver block address is at byte 48
  for (size_t i = 48; i < 56; ++i) REQUIRE(b[i] == 0xFF);  // "undefined address"
  b[48] = 29;
  for (size_t i = 49; i < 56; ++i) b[i] = 0;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));

  const Cost cost = cost_of([&] {
    CHECK_THROWS_WITH_AS(
        busi::weights::read_keras_conv_layers(path, {"block1_conv1"}),
        doctest::Contains("corrupt: the HDF5 library asked for more memory than a file of"),
        busi::Error);
  });
  INFO("took " << cost.seconds << " s, peak RSS grew by " << cost.peak_growth_mib << " MiB");
  CHECK(cost.peak_growth_mib < 512);
  CHECK(cost.seconds < 5.0);  // a generous bound for sanitizer builds; it took 11 s uncapped
}

TEST_CASE("fuzz finding, keras_h5: a kernel claiming 151 M values in a small file is refused") {
  // The finding: a kernel dataset whose dimensions had become 3 x 3 x 4096 x 4096 (604 MB of
  // float32) in a 22 kB file; the reader allocated it before reading. Remade here with a
  // chunked dataset of that shape whose chunks were never written (HDF5 stores none of it).
  busi::testing::TempDir dir("fuzz-h5-huge");
  const std::string path = dir.file("huge.h5");
  {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const hid_t group = H5Gcreate2(file, "block1_conv1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t inner = H5Gcreate2(group, "block1_conv1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[4] = {3, 3, 4096, 4096}, chunk[4] = {3, 3, 64, 64}, bias_dims[1] = {4096};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(props, 4, chunk);
    const hid_t kernel =
        H5Dcreate2(inner, "kernel:0", H5T_IEEE_F32LE, space, H5P_DEFAULT, props, H5P_DEFAULT);
    const hid_t bias_space = H5Screate_simple(1, bias_dims, nullptr);
    const hid_t bias = H5Dcreate2(inner, "bias:0", H5T_IEEE_F32LE, bias_space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(kernel >= 0);
    REQUIRE(bias >= 0);
    for (hid_t d : {kernel, bias}) H5Dclose(d);
    for (hid_t s : {space, bias_space}) H5Sclose(s);
    H5Pclose(props);
    for (hid_t g : {inner, group}) H5Gclose(g);
    H5Fclose(file);
  }
  CHECK(fs::file_size(path) < 100000);
  CHECK_THROWS_WITH_AS(busi::weights::read_keras_conv_layers(path, {"block1_conv1"}),
                       doctest::Contains("dataset 'block1_conv1/block1_conv1/kernel:0' is "
                                         "implausibly large"),
                       busi::Error);
}
TEST_CASE("fuzz finding, keras_h5: a dataset whose storage size is corrupt is refused, no crash") {
  // The finding (tests/fixtures/fuzz/keras_h5_null_copy.h5, the fuzzer's input as it was: a
  // mutation of the seed our own H5Writer makes): a bias dataset whose storage no longer matches
  // its 4 values; libhdf5 1.10.8 failed an allocation it sized from the file and copied from the
  // null pointer inside H5Dread, a segfault of convert_weights. The reader now checks the
  // storage against the values before reading. The file itself is read first; then a corrupt
  // size made from a file of ours (the 8 bytes after the bias data's address set to 2^62),
  // which the library would read without complaint.
  CHECK_THROWS_WITH_AS(
      busi::weights::read_keras_conv_layers(
          std::string(BUSI_SOURCE_DIR) + "/tests/fixtures/fuzz/keras_h5_null_copy.h5",
          {"block1_conv1", "block1_conv2"}),
      doctest::Contains("stores 0 bytes for 4 values of 4 bytes: the file is corrupt"),
      busi::Error);
  busi::testing::TempDir dir("fuzz-h5-storage");
  const std::string path = dir.file("notop.h5");
  {
    busi::testing::H5Writer h5(path);
    h5.conv_layer("block1_conv1", 3, 3, 3, 4);
  }
  haddr_t address = HADDR_UNDEF;
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(file, "block1_conv1/block1_conv1/bias:0", H5P_DEFAULT);
    REQUIRE(ds >= 0);
    address = H5Dget_offset(ds);
    H5Dclose(ds);
    H5Fclose(file);
  }
  REQUIRE(address != HADDR_UNDEF);
  std::vector<uint8_t> b = bytes_of(path);
  uint8_t pattern[16];
  const uint64_t size = 16, address64 = address;
  std::memcpy(pattern, &address64, 8);  // little-endian, as HDF5 stores it (x86)
  std::memcpy(pattern + 8, &size, 8);
  size_t found = 0, at = 0;
  for (size_t i = 0; i + 16 <= b.size(); ++i)
    if (std::memcmp(b.data() + i, pattern, 16) == 0) ++found, at = i;
  REQUIRE(found == 1);  // the layout message, and nothing else looks like it
  const uint64_t huge = uint64_t{1} << 62;
  std::memcpy(b.data() + at + 8, &huge, 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  CHECK_THROWS_WITH_AS(busi::weights::read_keras_conv_layers(path, {"block1_conv1"}),
                       doctest::Contains("dataset 'block1_conv1/block1_conv1/bias:0' stores "
                                         "4611686018427387904 bytes for 4 values of 4 bytes"),
                       busi::Error);
}

TEST_CASE("fuzz finding, keras_h5: a local heap whose free list loops is refused at once") {
  // The finding (tests/fixtures/fuzz/keras_h5_heap_loop.h5, the fuzzer's input as it was): the
  // local heap at byte 680 lists a free block at offset 48 whose "next" is 48 again. libhdf5
  // 1.10.8 follows such a list without end, allocating at each step (40 million allocations:
  // 538 MB and 6 s under the address-space cap, without end under AddressSanitizer, where the cap
  // cannot act). The reader now checks the free lists before the library opens the file.
  const std::string finding =
      std::string(BUSI_SOURCE_DIR) + "/tests/fixtures/fuzz/keras_h5_heap_loop.h5";
  const Cost cost = cost_of([&] {
    CHECK_THROWS_WITH_AS(busi::weights::read_keras_conv_layers(finding, {"block1_conv1"}),
                         doctest::Contains("corrupt: the local heap at byte 680: its free list "
                                           "loops back to offset 48 of its 88-byte data segment"),
                         busi::Error);
  });
  INFO("took " << cost.seconds << " s, peak RSS grew by " << cost.peak_growth_mib << " MiB");
  CHECK(cost.peak_growth_mib < 64);  // 515 MiB without the check, stopped by the cap
  CHECK(cost.seconds < 2.0);         // a generous bound for sanitizer builds

  // Remade from a file of ours: the valid file passes the check (and is read), then its first
  // local heap with a free block gets that block's "next" pointed at the block itself.
  busi::testing::TempDir dir("fuzz-h5-heap");
  const std::string path = dir.file("notop.h5");
  {
    busi::testing::H5Writer h5(path);
    h5.conv_layer("block1_conv1", 3, 3, 3, 4);
  }
  CHECK_FALSE(busi::weights::find_looping_local_heap(path).has_value());
  CHECK(busi::weights::read_keras_conv_layers(path, {"block1_conv1"}).present.size() == 1);
  std::vector<uint8_t> b = bytes_of(path);
  REQUIRE(b[8] == 0);                   // superblock version 0
  REQUIRE((b[13] == 8 && b[14] == 8));  // 8-byte offsets and lengths
  auto u64 = [&](size_t at) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + at, 8);  // little-endian, as HDF5 stores it (x86)
    return v;
  };
  // "HEAP", version, 3 reserved bytes, segment size (8), first free block (8), segment address.
  size_t heap = 0;
  uint64_t block = 1;
  for (size_t i = 0; i + 32 <= b.size() && block == 1; ++i)
    if (std::memcmp(b.data() + i, "HEAP", 4) == 0 && b[i + 4] == 0) heap = i, block = u64(i + 16);
  REQUIRE(block != 1);  // a heap with a free block
  const uint64_t free_block_at = u64(heap + 24) + block;
  REQUIRE(free_block_at + 16 <= b.size());
  std::memcpy(b.data() + free_block_at, &block, 8);  // next = itself
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  const std::optional<busi::weights::HeapProblem> problem =
      busi::weights::find_looping_local_heap(path);
  REQUIRE(problem.has_value());
  CHECK(problem->heap_offset == heap);
  const std::string loops = "its free list loops back to offset " + std::to_string(block);
  CHECK_THROWS_WITH_AS(busi::weights::read_keras_conv_layers(path, {"block1_conv1"}),
                       doctest::Contains(loops.c_str()), busi::Error);

  // A file that is not HDF5 is left to the library to refuse.
  const std::string text = dir.file("text.h5");
  std::ofstream(text) << "HEAP HEAP HEAP, not an HDF5 file";
  CHECK_FALSE(busi::weights::find_looping_local_heap(text).has_value());
}
#endif
