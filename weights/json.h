// A small, strict JSON parser: just what a safetensors header (and weights/manifest.json) needs:
// objects, arrays, strings with escapes and integers. Anything else is rejected with a clear error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace busi::weights::json {

struct Value {
  enum class Kind { Object, Array, String, Integer };
  Kind kind = Kind::Object;
  std::string string;                                  // Kind::String
  int64_t integer = 0;                                 // Kind::Integer
  std::vector<Value> array;                            // Kind::Array
  std::vector<std::pair<std::string, Value>> members;  // Kind::Object, in document order

  bool is_object() const { return kind == Kind::Object; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_string() const { return kind == Kind::String; }
  bool is_integer() const { return kind == Kind::Integer; }
  // The member called `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
};

// "object", "array", "string", "integer" (for error messages).
const char* kind_name(Value::Kind kind);

// Limits that keep a hostile header from exhausting the stack: a safetensors header needs a
// depth of 3 ({"name": {"shape": [..]}}), so 32 is generous.
inline constexpr int kMaxDepth = 32;

// Parses `text`, which must hold exactly one JSON value (surrounded by optional whitespace).
// Throws busi::Error "<origin>: bad JSON at byte N: <what>" when it is malformed,
// nested deeper than kMaxDepth, or uses what this parser does not support (floats, true, false,
// null), and when an object repeats a key.
Value parse(std::string_view text, const std::string& origin);

// `s` as a JSON string literal, quotes included ("a\"b" for a"b; control characters as \u00XX).
std::string quote(std::string_view s);

}  // namespace busi::weights::json
