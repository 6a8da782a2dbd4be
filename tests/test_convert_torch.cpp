// Reading PyTorch checkpoints without Python (weights/torch_checkpoint.h): the fixtures of
// tests/fixtures/torch/, written by real PyTorch in both torch.save formats
// (tests/fixtures/make_torch_checkpoints.py), read value by value; views, shared storages and
// non-contiguous tensors; the VGG16 converter and tool on a checkpoint; hostile files (a pickle
// calling os.system, tensors outside their storage, counts that disagree), every truncation and
// every one-byte corruption of every fixture: a clear error, never a crash or a wrong value.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/common/error.h"
#include "tests/test_safetensors_helpers.h"
#include "weights/convert_vgg16.h"
#include "weights/metadata.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"
#include "weights/torch_checkpoint.h"
#include "weights/zip_archive.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::read_bytes;
using busi::testing::TempDir;
using busi::testing::write_bytes;

namespace {

const std::string kFixtures = std::string(BUSI_SOURCE_DIR) + "/tests/fixtures/torch/";

// The fixtures' formula (make_torch_checkpoints.py): v_k = (k + start) / 8 - 4.
std::vector<float> values(int n, int start = 0) {
  std::vector<float> v(n);
  for (int k = 0; k < n; ++k) v[k] = static_cast<float>((k + start) / 8.0 - 4.0);
  return v;
}

const Tensor& tensor(const TorchCheckpoint& c, const std::string& name) {
  for (const NamedTensor& t : c.tensors)
    if (t.name == name) return t.tensor;
  FAIL("no tensor " << name);
  static Tensor none;
  return none;
}

std::vector<uint8_t> bytes_of(const std::string& path) {
  const std::string s = read_bytes(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// What reading gives: "ok" or the error's message.
std::string outcome(std::vector<uint8_t> bytes, const std::string& name) {
  try {
    read_torch_checkpoint(std::move(bytes), name);
    return "ok";
  } catch (const Error& e) {
    return e.what();
  }
}

const char* const kFormats[] = {"zip", "legacy"};

}  // namespace

TEST_CASE("torch checkpoint: float32 values in both torch.save formats") {
  for (const std::string format : kFormats) {
    const TorchCheckpoint c = read_torch_checkpoint(kFixtures + "f32_" + format + ".pth");
    INFO(format);
    CHECK(c.format == format);
    REQUIRE(c.tensors.size() == 3);
    CHECK(c.tensors[0].name == "a");  // file order
    CHECK(tensor(c, "a").shape() == Shape{2, 3});
    CHECK(tensor(c, "a").to_vector() == values(6));
    CHECK(tensor(c, "b").to_vector() == values(4, 10));
    CHECK(tensor(c, "scalar").shape() == Shape{});
    CHECK(tensor(c, "scalar").to_vector() == std::vector<float>{2.5f});
    CHECK(c.skipped.empty());
  }
}

TEST_CASE("torch checkpoint: float16, bfloat16 and float64 become float32 exactly") {
  for (const std::string format : kFormats) {
    const TorchCheckpoint c = read_torch_checkpoint(kFixtures + "f16_" + format + ".pth");
    INFO(format);
    CHECK(tensor(c, "a").to_vector() == values(6));
    CHECK(tensor(c, "b").to_vector() == values(4, 10));
    CHECK(tensor(c, "bf").to_vector() == values(5, 3));
    CHECK(tensor(c, "d").to_vector() == values(3, 7));
  }
}

TEST_CASE("torch checkpoint: views into one storage, non-contiguous tensors, int64 skipped") {
  const std::vector<float> base = values(24);  // (4, 6), row-major
  for (const std::string format : kFormats) {
    const TorchCheckpoint c = read_torch_checkpoint(kFixtures + "views_" + format + ".pth");
    INFO(format);
    CHECK(tensor(c, "base").to_vector() == base);
    CHECK(tensor(c, "row").to_vector() == std::vector<float>(base.begin() + 6, base.begin() + 12));
    std::vector<float> transposed, columns;
    for (int j = 0; j < 6; ++j)
      for (int i = 0; i < 4; ++i) transposed.push_back(base[i * 6 + j]);
    for (int i = 0; i < 4; ++i)
      for (int j = 1; j < 5; j += 2) columns.push_back(base[i * 6 + j]);
    CHECK(tensor(c, "transposed").shape() == Shape{6, 4});
    CHECK(tensor(c, "transposed").to_vector() == transposed);
    CHECK(tensor(c, "columns").shape() == Shape{4, 2});
    CHECK(tensor(c, "columns").to_vector() == columns);
    CHECK(c.skipped == std::vector<std::string>{"steps (int64 tensor)"});
  }
}

TEST_CASE("torch checkpoint: VGG16's features.0 from a module's state dict converts exactly") {
  for (const std::string format : kFormats) {
    const std::string path = kFixtures + "vgg_" + format + ".pth";
    INFO(format);
    CHECK(looks_like_torch_checkpoint(path));
    const ConvertedWeights w = convert_torchvision_vgg16(path);
    CHECK(w.layers_present == std::vector<std::string>{"block1_conv1"});
    CHECK(w.layers_missing.size() == 12);
    REQUIRE(w.tensors.size() == 2);
    CHECK(w.tensors[0].name == "block1_conv1.weight");
    CHECK(w.tensors[0].tensor.to_vector() == values(64 * 27));
    CHECK(w.tensors[1].tensor.to_vector() == values(64, 100));
    CHECK(w.metadata.at(kPreprocessingKey) == kImagenetTorch);
    CHECK(w.metadata.at(kSourceKey).find("PyTorch checkpoint") != std::string::npos);
  }
  CHECK(!looks_like_torch_checkpoint(kFixtures + "../vgg16_block3_reference.txt"));
}

TEST_CASE("torch checkpoint: a pickle that calls os.system is refused, naming it and the byte") {
  for (const std::string format : kFormats) {
    const std::string path = kFixtures + "hostile_osystem_" + format + ".pth";
    INFO(format);
    CHECK_THROWS_WITH_AS(read_torch_checkpoint(path),
                         doctest::Contains("global 'posix.system' is not allowed"), Error);
    const std::string message = outcome(bytes_of(path), path);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(": byte ") != std::string::npos);
    CHECK(message.find("opcode 0x63 ('c')") != std::string::npos);  // GLOBAL
  }
}

TEST_CASE("torch checkpoint: tensors outside their storage and counts that disagree are refused") {
  const std::string dir = kFixtures;
  CHECK_THROWS_WITH_AS(read_torch_checkpoint(dir + "hostile_outside_legacy.pth"),
                       doctest::Contains("reads past the end of its storage"), Error);
  CHECK_THROWS_WITH_AS(read_torch_checkpoint(dir + "hostile_expanded_legacy.pth"),
                       doctest::Contains("has more elements than its storage"), Error);
  CHECK_THROWS_WITH_AS(read_torch_checkpoint(dir + "hostile_count_legacy.pth"),
                       doctest::Contains("has 7 elements, the state dict says 6"), Error);
}

TEST_CASE("torch checkpoint: every truncation and every one-byte change is handled cleanly") {
  // Each prefix of each fixture must be refused (a checkpoint has no optional tail); a changed
  // byte must be refused or read - never crash (the ASan build runs this too) - and a changed
  // byte inside a zip entry is caught by its CRC-32.
  int refused_changes = 0, changes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("hostile_", 0) == 0) continue;
    const std::vector<uint8_t> bytes = bytes_of(entry.path().string());
    REQUIRE(outcome(bytes, name) == "ok");
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string o = outcome(std::vector<uint8_t>(bytes.begin(), bytes.begin() + n), name);
      if (o == "ok") FAIL_CHECK(name << " truncated to " << n << " bytes was read");
    }
    for (size_t at = 0; at < bytes.size(); ++at) {
      std::vector<uint8_t> changed = bytes;
      changed[at] ^= 0x5A;
      ++changes;
      refused_changes += outcome(std::move(changed), name) != "ok";
    }
  }
  MESSAGE(refused_changes << " of " << changes << " one-byte changes refused, the rest read");
  CHECK(refused_changes > changes / 2);
}

TEST_CASE("torch checkpoint: a damaged zip entry, a compressed one and the ZIP64 records") {
  const std::vector<uint8_t> good = bytes_of(kFixtures + "f32_zip.pth");
  const ZipArchive zip(good, "f32_zip.pth");
  const ZipEntry* storage = zip.find("f32_zip/data/0");
  REQUIRE(storage != nullptr);
  std::vector<uint8_t> damaged = good;
  damaged[storage->offset + 5] ^= 1;
  CHECK(outcome(damaged, "damaged.pth").find("is damaged: its CRC-32") != std::string::npos);

  // The end record's fields set to 0xFFFF...: the values come from the ZIP64 end record, which
  // PyTorch writes too (its writer always adds one); the tensors must read the same.
  std::vector<uint8_t> zip64 = good;
  size_t end = zip64.size() - 22;
  while (
      !(zip64[end] == 'P' && zip64[end + 1] == 'K' && zip64[end + 2] == 5 && zip64[end + 3] == 6))
    --end;
  for (size_t k = 8; k < 20; ++k) zip64[end + k] = 0xFF;
  const TorchCheckpoint from64 = read_torch_checkpoint(zip64, "zip64.pth");
  CHECK(tensor(from64, "a").to_vector() == values(6));

  // A compressed entry (method 8, deflate): not what PyTorch writes; said so.
  std::vector<uint8_t> compressed = good;
  for (size_t at = 0; at + 46 < compressed.size(); ++at)
    if (compressed[at] == 'P' && compressed[at + 1] == 'K' && compressed[at + 2] == 1 &&
        compressed[at + 3] == 2) {
      compressed[at + 10] = 8;
      break;
    }
  CHECK(outcome(compressed, "deflated.pth").find("is compressed (method 8)") != std::string::npos);
}

TEST_CASE("convert_weights tool: a PyTorch checkpoint in, refusals with a non-zero exit") {
  const std::string tool = busi::testing::built_tool("convert_weights");
  if (tool.empty()) return;
  TempDir dir("convert-torch");
  const std::string log = dir.file("log.txt");
  auto run = [&](const std::string& args) {
    return busi::testing::run_logged(tool + " " + args, log);
  };
  const std::string out = dir.file("vgg.safetensors");
  CHECK(run("--from torchvision '" + kFixtures + "vgg_legacy.pth' --out '" + out + "'") == 0);
  CHECK(read_bytes(log).find("conv layers present (1 of 13): block1_conv1") != std::string::npos);
  SafetensorsFile converted(out);
  CHECK(converted.read_vector("block1_conv1.bias") == values(64, 100));
  CHECK(run("--from torchvision '" + kFixtures + "hostile_osystem_zip.pth' --out '" +
            dir.file("no.safetensors") + "'") == 1);
  CHECK(read_bytes(log).find("global 'posix.system' is not allowed") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.file("no.safetensors")));
  write_bytes(dir.file("cut.pth"), read_bytes(kFixtures + "vgg_zip.pth").substr(0, 3000));
  CHECK(run("--from torchvision '" + dir.file("cut.pth") + "' --out '" + dir.file("no2") + "'") ==
        1);
  CHECK(read_bytes(log).find("error:") != std::string::npos);
}

TEST_CASE("scripts/get_weights.sh --file: checked against the manifest, converted, or refused") {
  const std::string tool = busi::testing::built_tool("convert_weights");
  if (tool.empty()) return;
  TempDir dir("get-weights");
  const std::string fixture = kFixtures + "vgg_zip.pth", log = dir.file("log.txt");
  // A manifest like weights/manifest.json whose torchvision download is the fixture.
  auto manifest = [&](const std::string& checks) {
    const std::string path = dir.file("manifest.json");
    write_bytes(path,
                "{\"downloads\": {\"torchvision\": {\"file\": \"vgg_zip.pth\", "
                "\"convert_from\": \"torchvision\"}}, \"files\": [{\"name\": "
                "\"vgg_zip.pth\", \"url\": \"-\"" +
                    checks + "}]}");
    return path;
  };
  auto run = [&](const std::string& manifest_path, const std::string& out) {
    return busi::testing::run_logged("BUSI_CONVERT_WEIGHTS='" + tool + "' '" BUSI_SOURCE_DIR +
                                         "/scripts/get_weights.sh' torchvision --file '" + fixture +
                                         "' --out '" + out + "' --manifest '" + manifest_path + "'",
                                     log);
  };
  const std::string sha = sha256_file(fixture), out = dir.file("vgg.safetensors");
  CHECK(run(manifest(", \"sha256\": \"" + sha + "\""), out) == 0);
  const std::string printed = read_bytes(log);
  INFO(printed);
  CHECK(printed.find("matches the manifest") != std::string::npos);
  CHECK(printed.substr(printed.rfind('\n', printed.size() - 2) + 1) == out + "\n");  // last line
  CHECK(SafetensorsFile(out).read_vector("block1_conv1.bias") == values(64, 100));
  // The torch.hub check: a prefix of the sha256.
  CHECK(run(manifest(", \"sha256_prefix\": \"" + sha.substr(0, 8) + "\""), dir.file("b")) == 0);
  // Wrong checksums and sizes are refused, and nothing is written.
  const std::string wrong = std::string(sha.rbegin(), sha.rend());
  CHECK(run(manifest(", \"sha256\": \"" + wrong + "\""), dir.file("c")) == 1);
  CHECK(read_bytes(log).find("Refused") != std::string::npos);
  CHECK(run(manifest(", \"md5\": \"00000000000000000000000000000000\""), dir.file("d")) == 1);
  CHECK(run(manifest(", \"size_bytes\": 12"), dir.file("e")) == 1);
  CHECK(run(manifest(""), dir.file("f")) == 1);  // no checksum at all: not trusted either
  CHECK(read_bytes(log).find("has no checksum") != std::string::npos);
  for (const char* name : {"c", "d", "e", "f"}) CHECK(!std::filesystem::exists(dir.file(name)));
}
