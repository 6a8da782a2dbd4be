// A restricted unpickler for weight files: it reads Python pickles (protocols 2 to 5) into plain
// values - None, bools, integers, floats, strings, bytes, tuples, lists, dicts - and nothing it
// is not told about. A pickle may name a global ("module.name") and call it (REDUCE), which in
// Python runs arbitrary code (os.system); here a global is only accepted when the caller's hooks
// allow it, and "calling" it only asks the hooks for a value: nothing is ever executed. Every
// length is checked against the bytes left before anything is allocated, so memory stays within
// a small multiple of the pickle's size. Errors name the file, the byte offset and the opcode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace busi::weights::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;  // shared: the memo hands out references, not copies

struct Value {
  enum class Kind {
    None,
    Bool,
    Int,
    BigInt,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Global,
    Handle
  };
  Kind kind = Kind::None;
  int64_t i = 0;   // Bool, Int; Handle: the index the hooks gave it
  double f = 0.0;  // Float
  // String, Bytes; BigInt: little-endian two's complement bytes; Global: "module.name";
  // Handle: what it stands for ("storage", "tensor")
  std::string s;
  std::vector<ValuePtr> items;                         // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // Dict, in insertion order

  static ValuePtr make(Kind kind) {
    auto v = std::make_shared<Value>();
    v->kind = kind;
    return v;
  }
  static ValuePtr handle(const std::string& what, int64_t index) {
    ValuePtr v = make(Kind::Handle);
    v->s = what;
    v->i = index;
    return v;
  }
  bool is(Kind k) const { return kind == k; }
};

const char* kind_name(Value::Kind kind);

// Where a pickle lies, for messages: "file.pth, archive/data.pkl" and the file offset of its
// first byte (so errors give offsets in the file, which a hex dump can find).
struct Source {
  std::string where;
  uint64_t file_offset = 0;
};

// What a caller allows. allowed(): may the pickle name this global? call(): the value of
// calling an allowed global with these arguments (REDUCE). persistent_load(): the value of a
// persistent id (BINPERSID; PyTorch's references to tensor storages). Hooks throw busi::Error
// (built with fail() below) to refuse.
class Hooks {
 public:
  virtual ~Hooks() = default;
  virtual bool allowed(const std::string& global) const = 0;
  virtual std::string allowed_list() const = 0;  // for the message when a global is refused
  virtual ValuePtr call(const std::string& global, const Value& args, uint64_t offset) = 0;
  virtual ValuePtr persistent_load(const Value& pid, uint64_t offset) = 0;
};

// Reads one pickle from data[0, size) (up to its STOP) and returns its value; *end (if given)
// receives the offset just after STOP, where the next pickle or raw data may start.
ValuePtr read(const uint8_t* data, size_t size, const Source& source, Hooks& hooks,
              size_t* end = nullptr);

// Throws busi::Error("<where>: byte <offset>: <what>").
[[noreturn]] void fail(const Source& source, uint64_t offset, const std::string& what);

}  // namespace busi::weights::pickle
