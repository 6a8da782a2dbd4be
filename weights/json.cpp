// The JSON parser of json.h (RFC 8259 grammar; by default restricted to objects, arrays, strings
// and integers) and the string quoting the safetensors writer uses.
#include "weights/json.h"

#include <charconv>
#include <cstdio>
#include <set>

#include "kernels/common/error.h"

namespace busi::weights::json {

const Value* Value::find(std::string_view key) const {
  for (const auto& [name, value] : members)
    if (name == key) return &value;
  return nullptr;
}

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::Object:
      return "object";
    case Value::Kind::Array:
      return "array";
    case Value::Kind::String:
      return "string";
    case Value::Kind::Integer:
      return "integer";
    case Value::Kind::Number:
      return "number";
    case Value::Kind::Bool:
      return "boolean";
    case Value::Kind::Null:
      return "null";
  }
  return "?";
}

namespace {

// A recursive-descent parser: one method per grammar rule, `pos_` the next unread byte.
class Parser {
 public:
  Parser(std::string_view text, const std::string& origin, const ParseOptions& options)
      : text_(text), origin_(origin), options_(options) {}

  Value parse_document() {
    skip_whitespace();
    Value v = parse_value(0);
    skip_whitespace();
    if (pos_ != text_.size()) fail("unexpected text after the end of the JSON value");
    return v;
  }

 private:
  // The line and column (both from 1) are for a person reading a config file, the byte offset
  // for a one-line safetensors header of megabytes.
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      column = text_[i] == '\n' ? 1 : column + 1;
      line += text_[i] == '\n';
    }
    throw Error(origin_ + ": bad JSON at line " + std::to_string(line) + ", column " +
                std::to_string(column) + " (byte " + std::to_string(pos_) + "): " + what);
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  // Consumes `word` (true, false, null) when the text continues with it.
  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void expect(char c, const char* where) {
    if (at_end() || text_[pos_] != c)
      fail(std::string("expected '") + c + "' " + where +
           (at_end() ? ", found the end of the text" : ""));
    ++pos_;
  }

  // JSON whitespace is exactly space, tab, newline and carriage return.
  void skip_whitespace() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                         text_[pos_] == '\r'))
      ++pos_;
  }

  // Called before each value is built, so that memory stays bounded (see kMaxValues).
  void count_value() {
    if (++values_ > options_.max_values)
      fail("more than " + std::to_string(options_.max_values) + " values" +
           (options_.full_json ? "" : " (a safetensors header needs about 8 per tensor)"));
  }

  Value parse_value(int depth) {
    if (depth >= kMaxDepth) fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (at_end()) fail("expected a value, found the end of the text");
    const char c = peek();
    count_value();
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') {
      Value v;
      v.kind = Value::Kind::String;
      v.string = parse_string();
      return v;
    }
    if (c == '-' || is_digit(c)) return parse_number();
    if (c == 't' || c == 'f' || c == 'n') {
      if (!options_.full_json) fail("true, false and null are not used in a safetensors header");
      Value v;
      if (consume("null")) {
        v.kind = Value::Kind::Null;
        return v;
      }
      v.kind = Value::Kind::Bool;
      if (consume("true"))
        v.boolean = true;
      else if (!consume("false"))
        fail("expected true, false or null");
      return v;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  Value parse_object(int depth) {
    Value v;
    v.kind = Value::Kind::Object;
    expect('{', "to open an object");
    skip_whitespace();
    if (peek() == '}') {
      ++pos_;
      return v;
    }
    // The keys seen so far, decoded ("\u0061" and "a" are the same key). A balanced tree makes
    // each check O(log n) even for a hostile header with many keys (a linear search over the
    // members would make an 80,000-key header take seconds).
    std::set<std::string> keys;
    while (true) {
      skip_whitespace();
      if (peek() != '"') fail("expected a string key in an object");
      const size_t key_pos = pos_;
      std::string key = parse_string();
      // RFC 8259 leaves duplicate keys undefined; a weight file must not be ambiguous.
      if (!keys.insert(key).second) {
        pos_ = key_pos;  // the error points at the repeated key
        fail("duplicate key \"" + key + "\"");
      }
      skip_whitespace();
      expect(':', "after an object key");
      skip_whitespace();
      Value member = parse_value(depth + 1);
      v.members.emplace_back(std::move(key), std::move(member));
      skip_whitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}', "or ',' after an object member");
      return v;
    }
  }

  Value parse_array(int depth) {
    Value v;
    v.kind = Value::Kind::Array;
    expect('[', "to open an array");
    skip_whitespace();
    if (peek() == ']') {
      ++pos_;
      return v;
    }
    while (true) {
      skip_whitespace();
      v.array.push_back(parse_value(depth + 1));
      skip_whitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']', "or ',' after an array element");
      return v;
    }
  }

  // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. Without a fraction
  // or exponent it is an Integer (exactly, as int64); otherwise, or when it is too large for
  // int64, a Number (double) - which only full JSON allows: in a safetensors header every number
  // is a shape or an offset.
  Value parse_number() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!is_digit(peek())) fail("expected a digit");
    if (peek() == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))
      fail("numbers must not have leading zeros");
    while (is_digit(peek())) ++pos_;
    const size_t integer_end = pos_;
    if (peek() == '.') {
      if (!options_.full_json) fail("only integers are supported (no fractions or exponents)");
      ++pos_;
      if (!is_digit(peek())) fail("expected a digit after the decimal point");
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      if (!options_.full_json) fail("only integers are supported (no fractions or exponents)");
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!is_digit(peek())) fail("expected a digit in the exponent");
      while (is_digit(peek())) ++pos_;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    Value v;
    if (integer_end == pos_) {
      if (std::from_chars(first, last, v.integer).ec == std::errc()) {
        v.kind = Value::Kind::Integer;
        return v;
      }
      if (!options_.full_json) {
        pos_ = start;
        fail("integer does not fit in 64 bits");
      }
    }
    if (std::from_chars(first, last, v.number).ec != std::errc()) {
      pos_ = start;
      fail("number out of the range of a double");
    }
    v.kind = Value::Kind::Number;
    return v;
  }

  // Four hex digits of a \uXXXX escape.
  uint32_t parse_hex4() {
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      uint32_t digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail("expected four hex digits after \\u");
      }
      code = code * 16 + digit;
      ++pos_;
    }
    return code;
  }

  static void append_utf8(uint32_t code, std::string& out) {
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

  // A string literal; escapes are decoded (\uXXXX to UTF-8, surrogate pairs joined).
  std::string parse_string() {
    expect('"', "to open a string");
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      // RFC 8259 section 7: control characters must be escaped inside strings.
      if (static_cast<unsigned char>(c) < 0x20) fail("unescaped control character in a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = peek();
      ++pos_;
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
          uint32_t code = parse_hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) fail("unpaired low surrogate in \\u escape");
          if (code >= 0xD800 && code <= 0xDBFF) {
            // A high surrogate must be followed by \u and a low surrogate (UTF-16 pair).
            if (peek() != '\\' || pos_ + 1 >= text_.size() || text_[pos_ + 1] != 'u')
              fail("unpaired high surrogate in \\u escape");
            pos_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired high surrogate in \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(code, out);
          break;
        }
        default:
          --pos_;
          fail("invalid escape in a string");
      }
    }
  }

  std::string_view text_;
  const std::string& origin_;
  ParseOptions options_;
  size_t values_ = 0;  // values built so far
  size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const std::string& origin, const ParseOptions& options) {
  return Parser(text, origin, options).parse_document();
}

std::string quote(std::string_view s) {
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
  out += '"';
  return out;
}

}  // namespace busi::weights::json
