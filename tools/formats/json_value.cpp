// The JSON value: typed access, writing (shortest exact numbers, escaped strings), and reading
// through the engine's JSON parser (weights/json.h).
#include "tools/formats/json_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "kernels/common/error.h"
#include "tools/formats/text_file.h"
#include "weights/json.h"

namespace busi::tools {

namespace {

const char* kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::Null:
      return "null";
    case Json::Kind::Bool:
      return "a boolean";
    case Json::Kind::Number:
      return "a number";
    case Json::Kind::String:
      return "a string";
    case Json::Kind::Array:
      return "an array";
    case Json::Kind::Object:
      return "an object";
  }
  return "?";
}

bool is_scalar(const Json& v) { return !v.is_array() && !v.is_object(); }

}  // namespace

// ---- Values -------------------------------------------------------------------------------------

Json::Json(float x) : kind_(Kind::Number) {
  // The float's shortest decimal form (0.1f -> "0.1"), read back as a double, so that a
  // learning rate of 1e-4f is written as 0.0001 and not as 0.00009999999747378752.
  if (std::isfinite(x)) {
    const std::string text = json_number(x);
    std::from_chars(text.data(), text.data() + text.size(), number_);
  } else {
    number_ = static_cast<double>(x);
  }
}

bool Json::as_bool() const {
  BUSI_CHECK(is_bool(), "json: expected a boolean, found ", kind_name(kind_));
  return bool_;
}

double Json::as_number() const {
  if (is_null()) return std::nan("");
  BUSI_CHECK(is_number(), "json: expected a number, found ", kind_name(kind_));
  return number_;
}

int64_t Json::as_int() const {
  BUSI_CHECK(is_number(), "json: expected an integer, found ", kind_name(kind_));
  if (is_integer_) return integer_;
  BUSI_CHECK(std::isfinite(number_) && std::floor(number_) == number_,
             "json: expected an integer, found ", json_number(number_));
  return static_cast<int64_t>(number_);
}

const std::string& Json::as_string() const {
  BUSI_CHECK(is_string(), "json: expected a string, found ", kind_name(kind_));
  return string_;
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) kind_ = Kind::Object;
  BUSI_CHECK(is_object(), "json: cannot look up key '", key, "' in ", kind_name(kind_));
  for (auto& [k, v] : members_)
    if (k == key) return v;
  members_.emplace_back(std::string(key), Json());
  return members_.back().second;
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : members_)
    if (k == key) return &v;
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  BUSI_CHECK(v != nullptr, "json: no key '", key, "'");
  return *v;
}

const std::vector<std::pair<std::string, Json>>& Json::items() const {
  BUSI_CHECK(is_object(), "json: expected an object, found ", kind_name(kind_));
  return members_;
}

Json& Json::push_back(Json value) {
  if (is_null()) kind_ = Kind::Array;
  BUSI_CHECK(is_array(), "json: cannot append to ", kind_name(kind_));
  elements_.push_back(std::move(value));
  return elements_.back();
}

const Json& Json::operator[](size_t i) const {
  BUSI_CHECK(is_array(), "json: expected an array, found ", kind_name(kind_));
  BUSI_CHECK(i < elements_.size(), "json: index ", i, " past the end (", elements_.size(), ")");
  return elements_[i];
}

Json& Json::operator[](size_t i) {
  BUSI_CHECK(is_array(), "json: expected an array, found ", kind_name(kind_));
  BUSI_CHECK(i < elements_.size(), "json: index ", i, " past the end (", elements_.size(), ")");
  return elements_[i];
}

const std::vector<Json>& Json::elements() const {
  BUSI_CHECK(is_array(), "json: expected an array, found ", kind_name(kind_));
  return elements_;
}

size_t Json::size() const {
  if (is_array()) return elements_.size();
  if (is_object()) return members_.size();
  return 0;
}

// ---- Writing (strings quoted by weights/json.h's quote) --------------------------------------

namespace {

// Shortest round-trip text of x, in fixed notation for 1e-4 <= |x| < 1e16 ("0.0001", "42") and
// in scientific notation otherwise ("1e-05"), the way Python prints floats.
template <typename Float>
std::string shortest_text(Float x) {
  if (!std::isfinite(x)) return "null";
  const Float magnitude = std::abs(x);
  const bool fixed = magnitude == 0 || (magnitude >= Float(1e-4) && magnitude < Float(1e16));
  char buf[400];
  const auto end = std::to_chars(buf, buf + sizeof buf, x,
                                 fixed ? std::chars_format::fixed : std::chars_format::scientific)
                       .ptr;
  return std::string(buf, end);
}

}  // namespace

std::string json_number(double x) { return shortest_text(x); }
std::string json_number(float x) { return shortest_text(x); }

void Json::write(std::string& out, int indent, int depth) const {
  const auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  switch (kind_) {
    case Kind::Null:
      out += "null";
      return;
    case Kind::Bool:
      out += bool_ ? "true" : "false";
      return;
    case Kind::Number:
      out += is_integer_ ? std::to_string(integer_) : json_number(number_);
      return;
    case Kind::String:
      out += weights::json::quote(string_);
      return;
    case Kind::Array: {
      // Arrays of plain values stay on one line (a confusion-matrix row, a CI [low, high]).
      bool one_line = indent == 0;
      if (!one_line) {
        one_line = true;
        for (const Json& e : elements_) one_line = one_line && is_scalar(e);
      }
      out += '[';
      for (size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += one_line ? ", " : ",";
        if (!one_line) newline(depth + 1);
        elements_[i].write(out, indent, depth + 1);
      }
      if (!one_line && !elements_.empty()) newline(depth);
      out += ']';
      return;
    }
    case Kind::Object: {
      out += '{';
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out += indent == 0 ? ", " : ",";
        if (indent > 0) newline(depth + 1);
        out += weights::json::quote(members_[i].first);
        out += ": ";
        members_[i].second.write(out, indent, depth + 1);
      }
      if (indent > 0 && !members_.empty()) newline(depth);
      out += '}';
      return;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  write(out, indent < 0 ? 0 : indent, 0);
  return out;
}

std::string Json::to_display_string() const {
  if (is_string()) return string_;
  return dump(0);
}

// ---- Parsing ------------------------------------------------------------------------------------

namespace {

// The engine has one JSON parser (weights/json.h); this turns its plain tree into a Json.
Json to_json(const weights::json::Value& v) {
  using Kind = weights::json::Value::Kind;
  switch (v.kind) {
    case Kind::Null:
      return Json();
    case Kind::Bool:
      return Json(v.boolean);
    case Kind::Integer:
      return Json(v.integer);
    case Kind::Number:
      return Json(v.number);
    case Kind::String:
      return Json(v.string);
    case Kind::Array: {
      Json array = Json::array();
      for (const weights::json::Value& element : v.array) array.push_back(to_json(element));
      return array;
    }
    case Kind::Object: {
      Json object = Json::object();
      for (const auto& [key, member] : v.members) object[key] = to_json(member);
      return object;
    }
  }
  return Json();
}

}  // namespace

Json parse_json(std::string_view text, const std::string& source) {
  weights::json::ParseOptions options;
  options.full_json = true;
  return to_json(weights::json::parse(text, source, options));
}

Json read_json_file(const std::string& path) { return parse_json(read_text_file(path), path); }

}  // namespace busi::tools
