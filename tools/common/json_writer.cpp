// The JSON value: typed access, writing (shortest exact numbers, escaped strings) and a small
// recursive-descent parser with line/column error messages.
#include "tools/common/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

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

// ---- Writing ------------------------------------------------------------------------------------

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // bytes of UTF-8 sequences pass through unchanged
        }
    }
  }
  return out + "\"";
}

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
      out += json_quote(string_);
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
        out += json_quote(members_[i].first);
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

// Recursive descent over the text; `pos` only moves forward. Errors give line and column.
class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Json document() {
    Json v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 200;  // deeper nesting is surely not one of our files

  [[noreturn]] void fail(const std::string& what) const {
    int line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw Error(detail::concat(source_, ": line ", line, ", column ", column, ": ", what));
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) fail("nested too deeply");
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end of text");
    const char c = text_[pos_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Json(string());
    if (consume("true")) return Json(true);
    if (consume("false")) return Json(false);
    if (consume("null")) return Json();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail(std::string("unexpected character '") + c + "'");
  }

  Json object(int depth) {
    Json obj = Json::object();
    ++pos_;  // '{'
    skip_space();
    if (consume("}")) return obj;
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a key in quotes");
      const std::string key = string();
      skip_space();
      if (!consume(":")) fail("expected ':' after key \"" + key + "\"");
      obj[key] = value(depth + 1);
      skip_space();
      if (consume(",")) continue;
      if (consume("}")) return obj;
      fail("expected ',' or '}' in an object");
    }
  }

  Json array(int depth) {
    Json arr = Json::array();
    ++pos_;  // '['
    skip_space();
    if (consume("]")) return arr;
    while (true) {
      arr.push_back(value(depth + 1));
      skip_space();
      if (consume(",")) continue;
      if (consume("]")) return arr;
      fail("expected ',' or ']' in an array");
    }
  }

  Json number() {
    // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    const size_t start = pos_;
    const auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    consume("-");
    if (!digits()) fail("malformed number");
    bool integral = true;
    if (consume(".")) {
      integral = false;
      if (!digits()) fail("malformed number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!consume("+")) consume("-");
      if (!digits()) fail("malformed number");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      int64_t n = 0;
      if (std::from_chars(first, last, n).ec == std::errc()) return Json(n);
    }
    double x = 0.0;
    if (std::from_chars(first, last, x).ec != std::errc()) fail("number out of range");
    return Json(x);
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    unsigned code = 0;
    if (std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, code, 16).ptr !=
        text_.data() + pos_ + 4)
      fail("malformed \\u escape");
    pos_ += 4;
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned code = hex4();
          // A character beyond U+FFFF comes as a surrogate pair: \uD83D\uDE00.
          if (code >= 0xD800 && code < 0xDC00 && consume("\\u")) {
            const unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate in \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default:
          fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

Json parse_json(std::string_view text, const std::string& source) {
  return Parser(text, source).document();
}

Json read_json_file(const std::string& path) { return parse_json(read_text_file(path), path); }

// ---- Files --------------------------------------------------------------------------------------

void write_text_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  BUSI_CHECK(out.good(), path,
             ": cannot open for writing (does the folder exist and is it writable?)");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  BUSI_CHECK(out.good(), path, ": write failed (disk full?)");
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  BUSI_CHECK(std::filesystem::exists(path, ec), path, ": missing");
  BUSI_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  BUSI_CHECK(in.good(), path, ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace busi::tools
