// A small JSON value (null, boolean, number, string, array, object keeping its keys in insertion
// order) that writes itself as text and is read back through the engine's JSON parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace busi::tools {

// Build a document by assignment, then dump() it:
//   Json config = Json::object();
//   config["model"] = "vgg16";
//   config["lr"] = 1e-4f;               // floats are written in their shortest form: 0.0001
//   config["layers"] = std::vector<int>{64, 128};
//   write_text_file(dir + "/config.json", config.dump());
// Numbers that are not finite (NaN, inf) are written as null: JSON has no spelling for them.
class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : kind_(Kind::Bool), bool_(b) {}
  Json(double x) : kind_(Kind::Number), number_(x) {}
  Json(float x);  // stored as the double whose decimal form is the float's shortest one
  // Any integer type (but not bool, nor char, which is text): kept exactly as an int64.
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>) Json(T x)
      : kind_(Kind::Number),
        number_(static_cast<double>(x)),
        integer_(static_cast<int64_t>(x)),
        is_integer_(true) {}
  Json(const char* s) : kind_(Kind::String), string_(s) {}
  Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}
  Json(std::string_view s) : kind_(Kind::String), string_(s) {}
  // A std::vector of anything a Json can be built from becomes an array.
  template <typename T>
  Json(const std::vector<T>& values) : kind_(Kind::Array) {
    for (const T& v : values) elements_.emplace_back(v);
  }

  static Json object() { return Json(Kind::Object); }
  static Json array() { return Json(Kind::Array); }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  // Typed reads; each throws busi::Error when the value is of another kind.
  bool as_bool() const;
  double as_number() const;  // null reads as NaN (how NaN was written)
  int64_t as_int() const;    // a number with no fractional part
  const std::string& as_string() const;

  // Objects. operator[] adds the key (as null) when missing; a null value becomes an object.
  Json& operator[](std::string_view key);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Json* find(std::string_view key) const;  // nullptr when absent (or not an object)
  const Json& at(std::string_view key) const;    // throws when absent
  const std::vector<std::pair<std::string, Json>>& items() const;

  // Arrays. push_back on a null value makes it an array.
  Json& push_back(Json value);
  const Json& operator[](size_t i) const;
  Json& operator[](size_t i);
  const std::vector<Json>& elements() const;

  size_t size() const;  // elements of an array, keys of an object, else 0

  // The text: indent = 0 writes one line; indent > 0 writes one member per line, except
  // arrays holding only numbers/strings/booleans/null, which stay on one line ([1, 2, 3]).
  std::string dump(int indent = 2) const;
  // A value as it reads in a table: strings without quotes, numbers in their shortest form,
  // arrays and objects as compact JSON.
  std::string to_display_string() const;

 private:
  explicit Json(Kind k) : kind_(k) {}
  void write(std::string& out, int indent, int depth) const;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0.0;
  int64_t integer_ = 0;
  bool is_integer_ = false;
  std::string string_;
  std::vector<Json> elements_;
  std::vector<std::pair<std::string, Json>> members_;
};

// The shortest decimal text that reads back as exactly x ("0.1", "0.0001", "1e-05", "42"),
// scientific only below 1e-4 or from 1e16 on; "null" when x is not finite. The float overload
// gives the float's shortest form (0.1f -> "0.1").
std::string json_number(double x);
std::string json_number(float x);

// Parses a whole JSON document (RFC 8259, through weights/json.h; a repeated key is an error).
// Throws busi::Error "<source>: bad JSON at line L, column C (byte N): <what>" on malformed text.
Json parse_json(std::string_view text, const std::string& source = "json");
// Reads and parses a file; errors name the file ("<path>: missing", "<path>: line 3, ...").
Json read_json_file(const std::string& path);

}  // namespace busi::tools
