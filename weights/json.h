// The engine's one JSON parser. By default it is strict, for untrusted safetensors headers (and
// weights/manifest.json): objects, arrays, strings and integers only, no duplicate keys, bounded
// depth and size. With `full_json` it also reads fractions, true, false and null, as the tools'
// own config.json and metrics.json need (tools/formats/json_value.h builds its Json from it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace busi::weights::json {

struct Member;  // an object's (name, value), defined below once Value is complete

struct Value {
  enum class Kind { Object, Array, String, Integer, Number, Bool, Null };
  Kind kind = Kind::Object;
  std::string string;           // Kind::String
  int64_t integer = 0;          // Kind::Integer
  double number = 0.0;          // Kind::Number: a fraction or exponent, or an integer beyond int64
  bool boolean = false;         // Kind::Bool
  std::vector<Value> array;     // Kind::Array
  std::vector<Member> members;  // Kind::Object, in document order

  bool is_object() const { return kind == Kind::Object; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_string() const { return kind == Kind::String; }
  bool is_integer() const { return kind == Kind::Integer; }
  // The member called `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
};

// A member of an object. Not std::pair<std::string, Value>: a pair of a type still being defined
// is undefined (libstdc++'s pair checks its types' traits, which clang refuses on Value).
struct Member {
  Member(std::string name, Value v) : first(std::move(name)), second(std::move(v)) {}
  std::string first;  // the name
  Value second;       // the value
};

// "object", "array", "string", "integer", "number", "boolean", "null" (for error messages).
const char* kind_name(Value::Kind kind);

// Limits that keep a hostile header from exhausting the stack: a safetensors header needs a
// depth of 3 ({"name": {"shape": [..]}}), so 32 is generous.
inline constexpr int kMaxDepth = 32;

// ... and the memory: a parsed value costs 100 to 200 bytes (a Value is 96 bytes; an object
// member adds its key twice, in the member and in the duplicate-key check), while "0," is 2
// bytes of text, so a 100 MiB header could otherwise build 50 million values (several GB). A
// safetensors header has about 8 values per tensor (the entry, "dtype", "shape" and its
// dimensions, "data_offsets" and its two ends), so 1 million values allow 125,000 tensors, far
// more than a real file holds (a large language model has a few thousand per file), and keep
// the parser's memory to a few hundred MB.
inline constexpr size_t kMaxValues = 1'000'000;

struct ParseOptions {
  // Also accept fractions and exponents, true, false and null (RFC 8259 in full). Off for a
  // safetensors header, where every number is a shape or an offset.
  bool full_json = false;
  // The most values (of any kind; object keys not counted) the document may hold.
  size_t max_values = kMaxValues;
};

// Parses `text`, which must hold exactly one JSON value (surrounded by optional whitespace).
// Throws busi::Error "<origin>: bad JSON at line L, column C (byte N): <what>" when it is
// malformed, nested deeper than kMaxDepth, holds more than `max_values` values, uses what the
// options do not allow, or when an object repeats a key (RFC 8259 leaves that undefined; a file
// must not be ambiguous).
Value parse(std::string_view text, const std::string& origin, const ParseOptions& options = {});

// `s` as a JSON string literal, quotes included ("a\"b" for a"b; \b \f \n \r \t, other control
// characters as \u00XX; UTF-8 kept). The one quoting function: the tools' Json writer uses it too.
std::string quote(std::string_view s);

}  // namespace busi::weights::json
