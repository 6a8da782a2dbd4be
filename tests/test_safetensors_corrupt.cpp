// Corrupt and hostile safetensors files: each must give a clear busi::Error naming the problem
// (never a crash, a hang or a huge allocation), and a fuzz loop over mutated files must only
// ever throw busi::Error.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "engine/random.h"
#include "tests/test_safetensors_helpers.h"
#include "weights/json.h"
#include "weights/safetensors.h"

using namespace busi;
using namespace busi::weights;
using busi::testing::float_bytes;
using busi::testing::safetensors_bytes;
using busi::testing::TempDir;
using busi::testing::u64_le;

namespace {

// Writes `bytes` to a file, opens it and reads every tensor (what a loader does).
void open_and_read_all(const TempDir& dir, const std::string& bytes) {
  const std::string path = dir.file("bad.safetensors");
  busi::testing::write_bytes(path, bytes);
  SafetensorsFile file(path);
  for (const TensorEntry& e : file.entries()) file.read_vector(e.name);
}

// A header with one tensor "t" of dtype F32, the given shape text and offsets, and 16 data
// bytes (four floats).
std::string one_tensor(const std::string& shape, const std::string& offsets,
                       const std::string& dtype = "F32") {
  return safetensors_bytes(R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape +
                               R"(,"data_offsets":)" + offsets + "}}",
                           float_bytes({1, 2, 3, 4}));
}

}  // namespace

TEST_CASE("a valid hand-made file is accepted (the baseline of the corrupt cases)") {
  TempDir dir("st-baseline");
  CHECK_NOTHROW(open_and_read_all(dir, one_tensor("[2,2]", "[0,16]")));
  // Trailing spaces after the JSON are allowed by the format (alignment padding).
  CHECK_NOTHROW(open_and_read_all(
      dir, safetensors_bytes(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}   )",
                             float_bytes({1, 2, 3, 4}))));
}

TEST_CASE("file too short, header length past the end or absurd") {
  TempDir dir("st-length");
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, ""), doctest::Contains("truncated: only 0 bytes"),
                       Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, "abc"),
                       doctest::Contains("less than the 8-byte header length"), Error);
  const std::string json = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  // Length one byte more than the file holds.
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, u64_le(json.size() + 5) + json + "abcd"),
                       doctest::Contains("header length 59 is past the end of the file"), Error);
  // 2^63 and 2^64 - 1: no allocation is attempted.
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, u64_le(uint64_t{1} << 63) + json),
                       doctest::Contains("header length 9223372036854775808 is past the end"),
                       Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, u64_le(~uint64_t{0}) + json),
                       doctest::Contains("past the end"), Error);
  // A header length within a (sparse) 200 MB file but above the 100 MiB limit.
  const std::string big = dir.file("big.safetensors");
  busi::testing::write_bytes(big, u64_le(150u * 1024 * 1024) + "{");
  std::filesystem::resize_file(big, 200u * 1024 * 1024);
  CHECK_THROWS_WITH_AS(SafetensorsFile{big}, doctest::Contains("exceeds the limit"), Error);
  // Other formats are recognised in the message.
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, std::string("PK\x03\x04", 4) + "zip-content"),
                       doctest::Contains("PyTorch .pth"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, "\x89HDF\r\n\x1a\n and more"),
                       doctest::Contains("HDF5 file"), Error);
}

TEST_CASE("missing or unreadable files name the file") {
  CHECK_THROWS_WITH_AS(SafetensorsFile{"/nonexistent/dir/w.safetensors"},
                       doctest::Contains("'/nonexistent/dir/w.safetensors': no such file"), Error);
  TempDir dir("st-dir");
  CHECK_THROWS_WITH_AS(SafetensorsFile{dir.path().string()},
                       doctest::Contains("not a regular file"), Error);
}

TEST_CASE("bad JSON headers") {
  TempDir dir("st-json");
  const std::string data = float_bytes({1});
  auto with_header = [&](const std::string& json) { return safetensors_bytes(json, data); };
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"(["t"])")),
                       doctest::Contains("must start with '{'"), Error);
  CHECK_THROWS_WITH_AS(
      open_and_read_all(dir, with_header(R"({"t": })")),
      doctest::Contains("bad JSON at line 1, column 7 (byte 6): unexpected character '}'"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"t":{"dtype":"F32","shape":[1],)")),
                       doctest::Contains("bad JSON"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"t":{"dtype":"F32)")),
                       doctest::Contains("unterminated string"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({} x)")),
                       doctest::Contains("unexpected text after the end"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"a":1,"a":2})")),
                       doctest::Contains("duplicate key \"a\""), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"t":{"shape":[1.5]}})")),
                       doctest::Contains("only integers"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"t":true})")),
                       doctest::Contains("true, false and null"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header("{\"t\x01\":1}")),
                       doctest::Contains("unescaped control character"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"\q":1})")),
                       doctest::Contains("invalid escape"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"\ud800":1})")),
                       doctest::Contains("unpaired high surrogate"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"a":99999999999999999999})")),
                       doctest::Contains("does not fit in 64 bits"), Error);
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(R"({"a":007})")),
                       doctest::Contains("leading zeros"), Error);
  // A deeply nested header would overflow a naive recursive parser's stack.
  const std::string deep = "{\"t\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(open_and_read_all(dir, with_header(deep)),
                       doctest::Contains("nested deeper than 32 levels"), Error);
}

TEST_CASE("the JSON parser decodes what it accepts") {
  const json::Value v = json::parse(
      R"( {"s": "a\"b\\c\/\n\t\u00e9\ud83d\ude00", "n": -42, "a": [1, [], {}], "m": 9223372036854775807} )",
      "test");
  REQUIRE(v.is_object());
  CHECK(v.find("s")->string == "a\"b\\c/\n\t\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(v.find("n")->integer == -42);
  CHECK(v.find("a")->array.size() == 3);
  CHECK(v.find("m")->integer == INT64_MAX);
  CHECK(v.find("missing") == nullptr);
  // quote() output parses back to the same string.
  const std::string tricky = "q\"b\\n\n\x01\x1f end";
  CHECK(json::parse(json::quote(tricky), "test").string == tricky);
}

namespace {

// {"k0":0,"k1":0,...} with `n` keys (the last one repeated once more when `duplicate_last`).
std::string many_keys(int n, bool duplicate_last = false) {
  std::string json = "{";
  for (int i = 0; i < n; ++i) json += (i > 0 ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  if (duplicate_last) json += ",\"k" + std::to_string(n - 1) + "\":1";
  return json + "}";
}

// {"t":[0,0,...]} with `elements` zeros: 2 + elements values.
std::string zeros_header(size_t elements) {
  std::string json = "{\"t\":[0";
  json.reserve(2 * elements + 16);
  for (size_t i = 1; i < elements; ++i) json += ",0";
  return json + "]}";
}

}  // namespace

TEST_CASE("JSON: many keys are checked for duplicates quickly; the number of values is capped") {
  // 200,000 keys: a linear duplicate search per key would take minutes here (an 80,000-key
  // header took 21 s); a tree takes milliseconds. No timing assertion: this test finishing is
  // the check.
  const json::Value v = json::parse(many_keys(200000), "big");
  REQUIRE(v.is_object());
  CHECK(v.members.size() == 200000);
  CHECK(v.members.back().first == "k199999");
  CHECK_THROWS_WITH_AS(json::parse(many_keys(200000, true), "big"),
                       doctest::Contains("duplicate key \"k199999\""), Error);
  // Keys are compared decoded: "\u0061" is "a".
  CHECK_THROWS_WITH_AS(json::parse(R"({"a":1,"\u0061":2})", "esc"),
                       doctest::Contains("duplicate key \"a\""), Error);
  // The same key in two different objects is fine.
  CHECK_NOTHROW(json::parse(R"({"a":{"a":1},"b":{"a":2}})", "nested"));

  // The cap on values: an object and its 3 members are 4 values; arrays count their elements.
  const json::ParseOptions cap4{.full_json = false, .max_values = 4};
  CHECK_NOTHROW(json::parse(R"({"a":1,"b":[],"c":"x"})", "cap", cap4));
  CHECK_THROWS_WITH_AS(
      json::parse(R"({"a":1,"b":[2],"c":"x"})", "cap", cap4),
      doctest::Contains("cap: bad JSON at line 1, column 20 (byte 19): more than 4"), Error);
  CHECK_THROWS_WITH_AS(
      json::parse(many_keys(200000), "cap", {.full_json = false, .max_values = 1000}),
      doctest::Contains("more than 1000 values"), Error);
}

TEST_CASE("a header of more than json::kMaxValues tiny values is refused before it is built") {
  // "0," is 2 bytes: a 100 MiB header could hold 50 million values. The parser stops at
  // json::kMaxValues with a clear error (the exact boundary is checked with a small cap above).
  TempDir dir("st-values");
  CHECK_THROWS_WITH_AS(
      open_and_read_all(dir, safetensors_bytes(zeros_header(json::kMaxValues - 1), "")),
      doctest::Contains("more than 1000000 values"), Error);
}

TEST_CASE("header entries: fields, dtypes, shapes, offsets") {
  TempDir dir("st-entries");
  auto fails_with = [&](const std::string& bytes, const std::string& text) {
    CHECK_THROWS_WITH_AS(open_and_read_all(dir, bytes), doctest::Contains(text.c_str()), Error);
  };
  // Offsets out of range (the data section has 16 bytes), and a truncated data section.
  fails_with(one_tensor("[2,2]", "[0,20]"), "tensor 't': data_offsets [0, 20) are out of range");
  {
    std::string truncated = one_tensor("[2,2]", "[0,16]");
    truncated.resize(truncated.size() - 3);
    fails_with(truncated, "is the file truncated?");
  }
  fails_with(one_tensor("[2,2]", "[8,4]"), "not a valid byte range");
  fails_with(one_tensor("[2,2]", "[-4,12]"), "not a valid byte range");
  fails_with(one_tensor("[2,2]", "[0]"), "must be an array of two integers");
  fails_with(one_tensor("[2,2]", "[\"0\",\"16\"]"), "must be an array of two integers");
  // Size vs shape.
  fails_with(one_tensor("[3,2]", "[0,16]"),
             "size mismatch: shape (3, 2) of F32 needs 24 bytes but data_offsets [0, 16) hold 16");
  fails_with(one_tensor("[4294967296,4294967296,16]", "[0,16]"), "more than 2^64");
  fails_with(one_tensor("[-4]", "[0,16]"), "negative dimension");
  fails_with(one_tensor("4", "[0,16]"), "\"shape\" must be an array");
  // Dtypes: one the format does not have is refused when the file is opened (its size is
  // unknown, so its byte range cannot be checked); one the engine does not read (I32) is
  // refused when the tensor is read (see the test below).
  fails_with(one_tensor("[4]", "[0,16]", "Q8"), "tensor 't': unknown dtype 'Q8'");
  fails_with(one_tensor("[4]", "[0,16]", "I32"), "tensor 't' has dtype I32, which the engine");
  fails_with(one_tensor("[2]", "[0,16]", "I32"), "size mismatch: shape (2,) of I32 needs 8 bytes");
  fails_with(safetensors_bytes(R"({"t":{"dtype":7,"shape":[4],"data_offsets":[0,16]}})",
                               "0123456789abcdef"),
             "\"dtype\" must be a string");
  // Fields.
  fails_with(safetensors_bytes(R"({"t":{"dtype":"F32","data_offsets":[0,16]}})",
                               float_bytes({1, 2, 3, 4})),
             "tensor 't': missing field \"shape\"");
  fails_with(
      safetensors_bytes(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"extra":1}})",
                        float_bytes({1, 2, 3, 4})),
      "unknown field \"extra\"");
  fails_with(safetensors_bytes(R"({"t":[1,2]})", ""), "header entry must be an object");
  fails_with(safetensors_bytes(R"({"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""),
             "empty name");
  // Metadata values must be strings.
  fails_with(safetensors_bytes(R"({"__metadata__":{"epoch":3}})", ""),
             "\"__metadata__\" value of \"epoch\" must be a string");
  fails_with(safetensors_bytes(R"({"__metadata__":"x"})", ""), "must be an object of strings");
}

TEST_CASE("data sections must be tiled exactly: no overlap, no hole, no trailing bytes") {
  TempDir dir("st-tiling");
  const std::string data = float_bytes({1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(
      open_and_read_all(
          dir, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})",
                                 data)),
      doctest::Contains("overlapping data_offsets: tensor 'b' [4, 16) overlaps tensor 'a' [0, 8)"),
      Error);
  // Two names for the same bytes are an overlap too.
  CHECK_THROWS_WITH_AS(
      open_and_read_all(
          dir, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                 R"("b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                 data)),
      doctest::Contains("overlapping"), Error);
  CHECK_THROWS_WITH_AS(
      open_and_read_all(
          dir, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                 data)),
      doctest::Contains("bytes [4, 8) of the data section belong to no tensor"), Error);
  CHECK_THROWS_WITH_AS(
      open_and_read_all(
          dir,
          safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data)),
      doctest::Contains("has 16 bytes but the tensors use only 8 (trailing bytes)"), Error);
}

TEST_CASE("a file changed after opening gives an error, not garbage") {
  TempDir dir("st-shrink");
  const std::string path = dir.file("w.safetensors");
  busi::testing::write_bytes(path, one_tensor("[4]", "[0,16]"));
  SafetensorsFile file(path);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 8);
  CHECK_THROWS_WITH_AS(file.read_vector("t"), doctest::Contains("the file ended early"), Error);
}

TEST_CASE("fuzz: mutated files only ever throw busi::Error") {
  TempDir dir("st-fuzz");
  const std::string valid =
      safetensors_bytes(R"({"__metadata__":{"format":"pt","k":"v\u00e9"},)"
                        R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                        R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                        R"("d":{"dtype":"F64","shape":[1],"data_offsets":[28,36]}} )",
                        std::string(36, '\x3c'));
  REQUIRE_NOTHROW(open_and_read_all(dir, valid));

  Generator gen(2024);
  int accepted = 0, rejected = 0, other = 0;
  std::string first_other;
  const int kIterations = 2500;
  for (int it = 0; it < kIterations; ++it) {
    std::string bytes = valid;
    switch (gen.randint(4)) {
      case 0: {  // flip random bits in a few random bytes
        const int64_t flips = 1 + gen.randint(4);
        for (int64_t f = 0; f < flips; ++f)
          bytes[static_cast<size_t>(gen.randint(static_cast<int64_t>(bytes.size())))] ^=
              static_cast<char>(1 << gen.randint(8));
        break;
      }
      case 1:  // truncate anywhere
        bytes.resize(static_cast<size_t>(gen.randint(static_cast<int64_t>(bytes.size()))));
        break;
      case 2:  // replace one byte of the header by a JSON-significant character
        bytes[static_cast<size_t>(8 + gen.randint(static_cast<int64_t>(valid.size()) - 44))] =
            "{}[]\",:0-9 \\u"[gen.randint(14)];
        break;
      default:  // a random header length
        bytes.replace(0, 8, u64_le((uint64_t{gen.next_u32()} << 32) >> gen.randint(64)));
    }
    try {
      open_and_read_all(dir, bytes);
      ++accepted;
    } catch (const Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      if (other++ == 0) first_other = e.what();
    }
  }
  INFO("first non-busi::Error exception: " << first_other);
  CHECK(other == 0);
  CHECK(accepted + rejected == kIterations);
  CHECK(rejected > kIterations / 2);  // most mutations break the header
  CHECK(accepted > 0);                // flips inside the data section stay valid
}
