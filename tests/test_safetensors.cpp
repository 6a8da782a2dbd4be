// Tests of the safetensors reader and writer: bit-exact round trips, metadata, the other
// dtypes, files read by Python's standard library, the writer's checks, and the shared
// partial VGG16 file.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "engine/device.h"
#include "engine/tensor.h"
#include "tests/test_safetensors_helpers.h"
#include "weights/atomic_file.h"
#include "weights/float_formats.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::file_names_in;
using busi::testing::TempDir;

namespace {

// Values whose bits must survive: signed zero, infinities, a NaN with a payload, subnormals,
// the extremes of float32.
std::vector<float> tricky_values() {
  return {0.0f,
          -0.0f,
          1.0f,
          -2.5f,
          std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity(),
          std::bit_cast<float>(0x7FC01234u),  // NaN with payload
          std::numeric_limits<float>::denorm_min(),
          std::numeric_limits<float>::max(),
          std::numeric_limits<float>::lowest(),
          3.14159274f,
          1e-30f};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // (memcmp must not be given the null data() of empty vectors, even for 0 bytes)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact and keeps order and metadata") {
  TempDir dir("st-roundtrip");
  const std::string path = dir.file("w.safetensors");
  const std::vector<float> tricky = tricky_values();
  StateDict tensors = {
      {"conv.weight", Tensor::from_vector(tricky, {2, 3, 2, 1})},
      {"a_scalar", Tensor::scalar(-7.25f)},  // shape [] (one element)
      {"empty", Tensor::zeros({0, 3})},      // zero elements: begin == end
      {"fc.bias", Tensor::from_vector({1, 2, 3}, {3})},
  };
  const std::map<std::string, std::string> metadata = {
      {"format", "test"},
      {"quote\"and\\backslash", "line\nbreak\ttab \x01 control"},
      {"unicode", "caf\xC3\xA9 \xE2\x9C\x93"},
      {"empty", ""},
  };
  write_safetensors(path, tensors, metadata);
  CHECK(file_names_in(dir.path()) == std::vector<std::string>{"w.safetensors"});  // no temp file

  SafetensorsFile file(path);
  CHECK(file.metadata() == metadata);
  REQUIRE(file.entries().size() == 4);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry& e = file.entries()[i];
    CHECK(e.name == tensors[i].name);  // header order is the StateDict's order
    CHECK(e.dtype == FileDType::F32);
    CHECK(e.shape == tensors[i].tensor.shape());
    CHECK(same_bits(file.read_vector(e.name), tensors[i].tensor.to_vector()));
  }
  CHECK(file.read_tensor("a_scalar").shape().empty());
  CHECK(file.read_tensor("empty").numel() == 0);

  // Layout of the bytes: 8-byte length, the header padded to a multiple of 8, then the data
  // (12 + 1 + 0 + 3 floats) in order.
  const std::string bytes = busi::testing::read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK(n % 8 == 0);
  CHECK(bytes[8] == '{');
  CHECK(bytes.size() == 8 + n + 16 * 4);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  CHECK(std::bit_cast<uint32_t>(first) == std::bit_cast<uint32_t>(tricky[0]));
}

TEST_CASE("writing over an existing file replaces it") {
  TempDir dir("st-replace");
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"x", Tensor::from_vector({1, 2}, {2})}});
  write_safetensors(path, {{"y", Tensor::from_vector({5}, {1})}}, {{"k", "v"}});
  SafetensorsFile file(path);
  REQUIRE(file.entries().size() == 1);
  CHECK(file.entries()[0].name == "y");
  CHECK(file.read_vector("y") == std::vector<float>{5});
  CHECK_THROWS_WITH_AS(file.entry("x"), doctest::Contains("no tensor 'x'"), Error);
}

TEST_CASE("AtomicFile: a unique temporary file beside the target, never someone else's") {
  TempDir dir("st-atomic");
  const std::string path = dir.file("w.safetensors");
  busi::testing::write_bytes(path, "old");

  // A symlink planted at the old fixed temporary name "<path>.tmp" is not followed: the file
  // it points to keeps its contents.
  const std::string victim = dir.file("victim");
  busi::testing::write_bytes(victim, "keep");
  std::filesystem::create_symlink(victim, path + ".tmp");

  {
    // Two writers of one path (two runs saving at once) get two different temporary files in
    // the target's directory; the last commit wins, and neither leaves a file behind.
    AtomicFile first(path);
    AtomicFile second(path);
    CHECK(first.temp_path() != second.temp_path());
    CHECK(first.temp_path() != path + ".tmp");
    CHECK(std::filesystem::path(first.temp_path()).parent_path() == dir.path());
    CHECK(std::filesystem::is_regular_file(first.temp_path()));
    first.write("first", 5);
    second.write("second", 6);
    second.commit();
    first.commit();
  }
  CHECK(busi::testing::read_bytes(path) == "first");
  CHECK(busi::testing::read_bytes(victim) == "keep");
  CHECK(file_names_in(dir.path()) ==
        std::vector<std::string>{"victim", "w.safetensors", "w.safetensors.tmp"});

  // Abandoned before commit (an exception while writing): the temporary file is removed and
  // the target keeps its previous contents.
  std::string abandoned;
  {
    AtomicFile file(path);
    abandoned = file.temp_path();
    file.write("partial", 7);
  }
  CHECK_FALSE(std::filesystem::exists(abandoned));
  CHECK(busi::testing::read_bytes(path) == "first");
}

TEST_CASE("the writer refuses ambiguous names") {
  TempDir dir("st-writer");
  const std::string path = dir.file("w.safetensors");
  const Tensor t = Tensor::zeros({1});
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"a", t}, {"a", t}}),
                       doctest::Contains("duplicate tensor name 'a'"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"", t}}), doctest::Contains("empty name"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"__metadata__", t}}),
                       doctest::Contains("reserved"), Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"u", Tensor()}}),
                       doctest::Contains("'u' is undefined"), Error);
  CHECK(file_names_in(dir.path()).empty());  // nothing written, no temp file left behind
}

TEST_CASE("files written by the engine parse with Python's standard library") {
  if (!busi::testing::python3_available()) {
    MESSAGE("python3 not found: skipping the Python interoperability check");
    return;
  }
  TempDir dir("st-python");
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path,
                    {{"block1_conv1.weight", Tensor::from_vector({1.5f, -0.25f, 1024, 0}, {2, 2})},
                     {"block1_conv1.bias", Tensor::from_vector({-3}, {1})}},
                    {{"note", "caf\xC3\xA9 \"quoted\""}});
  // The script checks the rules a strict reader (e.g. the safetensors package) enforces, then
  // prints what it decoded.
  const std::string script = dir.file("parse.py");
  busi::testing::write_bytes(script, R"PY(
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
assert b[8:9] == b'{' and (8 + n) % 8 == 0
header = json.loads(b[8:8 + n].decode('utf-8'))
data = b[8 + n:]
end = 0
for name, info in header.items():
    if name == '__metadata__':
        continue
    begin, stop = info['data_offsets']
    assert begin == end and info['dtype'] == 'F32'
    end = stop
    values = struct.unpack('<%df' % ((stop - begin) // 4), data[begin:stop])
    print(name, info['shape'], list(values))
assert end == len(data)
print(header['__metadata__']['note'])
)PY");
  const std::string out = dir.file("out.txt");
  const std::string command =
      "PYTHONIOENCODING=utf-8 python3 '" + script + "' '" + path + "' > '" + out + "' 2>&1";
  const int rc = std::system(command.c_str());
  const std::string printed = busi::testing::read_bytes(out);
  INFO("python output: " << printed);
  CHECK(rc == 0);
  CHECK(printed ==
        "block1_conv1.weight [2, 2] [1.5, -0.25, 1024.0, 0.0]\n"
        "block1_conv1.bias [1] [-3.0]\n"
        "caf\xC3\xA9 \"quoted\"\n");
}

TEST_CASE("F16, BF16 and F64 tensors are converted to float32 on load") {
  TempDir dir("st-dtypes");
  // F16: 1, -2, smallest subnormal 2^-24, largest subnormal, 65504 (max), +inf, 0x3555
  // (0.333251953125).
  const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0x3555};
  // BF16: 1, -5, the upper half of pi's float32 bits (3.140625).
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC0A0, 0x4049};
  // F64: 1.5, -0.1, 1e300 (overflows float: +inf), -1e-50 (underflows to -0).
  const std::vector<double> f64 = {1.5, -0.1, 1e300, -1e-50};
  std::string data(reinterpret_cast<const char*>(f16.data()), f16.size() * 2);
  data += std::string(reinterpret_cast<const char*>(bf16.data()), bf16.size() * 2);
  data += std::string(reinterpret_cast<const char*>(f64.data()), f64.size() * 8);
  const std::string json = R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},)"
                           R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[14,20]},)"
                           R"("d":{"dtype":"F64","shape":[2,2],"data_offsets":[20,52]}})";
  const std::string path = dir.file("dtypes.safetensors");
  busi::testing::write_bytes(path, busi::testing::safetensors_bytes(json, data));

  SafetensorsFile file(path);
  CHECK(file.entry("h").dtype == FileDType::F16);
  const std::vector<float> h = file.read_vector("h");
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == std::ldexp(1.0f, -24));
  CHECK(h[3] == std::ldexp(1023.0f, -24));
  CHECK(h[4] == 65504.0f);
  CHECK(std::isinf(h[5]));
  CHECK(h[6] == 0.333251953125f);
  CHECK(file.read_vector("b") == std::vector<float>{1.0f, -5.0f, 3.140625f});
  const Tensor d = file.read_tensor("d");
  CHECK(d.shape() == Shape{2, 2});
  const std::vector<float> dv = d.to_vector();
  CHECK(dv[0] == 1.5f);
  CHECK(dv[1] == -0.1f);
  CHECK(dv[2] == std::numeric_limits<float>::infinity());
  CHECK(dv[3] == 0.0f);
  CHECK(std::signbit(dv[3]));

  // The conversion helpers at the edges: NaN stays NaN, huge doubles round to +-inf or max.
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(std::signbit(half_to_float(0x8000)));
  CHECK(double_to_float(-1e39) == -std::numeric_limits<float>::infinity());
  CHECK(double_to_float(3.4028235e38) == std::numeric_limits<float>::max());
}

TEST_CASE("read_into fills an existing tensor, on the CPU or a GPU") {
  TempDir dir("st-readinto");
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"w", Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3})}});
  SafetensorsFile file(path);
  Tensor cpu = Tensor::zeros({2, 3});
  file.read_into(file.entry("w"), cpu);
  CHECK(cpu.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor wrong = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH_AS(file.read_into(file.entry("w"), wrong),
                       doctest::Contains("has shape (2, 3) in the file but the destination has "
                                         "(3, 2)"),
                       Error);
  if (!cuda_available()) {
    MESSAGE("no usable GPU: skipping the CUDA destination (" << cuda_unavailable_reason() << ")");
    return;
  }
  Tensor gpu = Tensor::zeros({2, 3}, Device::cuda());
  file.read_into(file.entry("w"), gpu);
  CHECK(gpu.is_cuda());
  CHECK(gpu.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  // Writing from a GPU tensor goes through the host too.
  const std::string path2 = dir.file("from_gpu.safetensors");
  write_safetensors(path2, {{"g", gpu}});
  CHECK(SafetensorsFile(path2).read_vector("g") == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("the shared partial VGG16 file reads as documented") {
  const std::string path =
      std::string(BUSI_SHARED_DIR) + "/weights/vgg16_torchvision_partial.safetensors";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipping: " << path << " not found");
    return;
  }
  SafetensorsFile file(path);
  REQUIRE(file.entries().size() == 10);
  CHECK(file.entries()[0].name == "features.0.weight");
  CHECK(file.entries()[9].name == "features.10.bias");
  CHECK(file.entry("features.10.weight").shape == Shape{256, 128, 3, 3});
  const std::vector<float> w = file.read_vector("features.0.weight");
  CHECK(w[0] == doctest::Approx(-0.5537306f).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(0.1427047f).epsilon(1e-6));
  CHECK(w[2] == doctest::Approx(0.5289615f).epsilon(1e-6));
  CHECK(preprocessing_of(file.metadata()) == kImagenetTorch);
  CHECK(file.metadata().count("source") == 1);
  CHECK(sha256_file(path) == "937895bb469b90b6bc442bbdaa4c94267ec94a1d2dfd26c17fa83f971ca34935");
}

TEST_CASE("sha256 matches the FIPS 180-4 examples") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
