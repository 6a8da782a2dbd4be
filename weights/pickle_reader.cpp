// The restricted unpickler of pickle_reader.h: a stack machine over the opcodes that state dicts
// of tensors use (those of pickle protocol 2, which PyTorch writes, and the few of 3 to 5), each
// with its operands bounds-checked. Any other opcode is refused by name and offset.
#include "weights/pickle_reader.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "kernels/common/error.h"

namespace busi::weights::pickle {

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::BigInt:
      return "int (long)";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::Bytes:
      return "bytes";
    case Value::Kind::Tuple:
      return "tuple";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Global:
      return "global";
    case Value::Kind::Handle:
      return "object";
  }
  return "?";
}

void fail(const Source& source, uint64_t offset, const std::string& what) {
  throw Error(detail::concat(source.where, ": byte ", offset, ": ", what));
}

namespace {

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, const Source& source, Hooks& hooks)
      : data_(data), size_(size), source_(source), hooks_(hooks) {}

  ValuePtr run(size_t* end) {
    while (true) {
      op_at_ = pos_;
      const uint8_t op = take(1)[0];
      if (op == '.') {  // STOP
        if (stack_.empty()) error("STOP with an empty stack");
        if (end) *end = pos_;
        return stack_.back();
      }
      step(op);
    }
  }

 private:
  uint64_t offset() const { return source_.file_offset + op_at_; }
  [[noreturn]] void error(const std::string& what) const {
    char op[32];
    const uint8_t code = op_at_ < size_ ? data_[op_at_] : 0;
    std::snprintf(op, sizeof op, "opcode 0x%02x%s%c%s", code, code >= 32 && code < 127 ? " ('" : "",
                  code >= 32 && code < 127 ? static_cast<char>(code) : ' ',
                  code >= 32 && code < 127 ? "')" : "");
    fail(source_, offset(), std::string(op) + ": " + what);
  }

  // The next n bytes of the pickle; a pickle that ends first was truncated.
  const uint8_t* take(size_t n) {
    if (n > size_ - pos_)
      fail(source_, source_.file_offset + op_at_,
           detail::concat("the pickle ends ", size_ - pos_, " bytes into an operand of ", n,
                          " bytes (a truncated file?)"));
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t little(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(p[k]) << (8 * k);
    return v;
  }
  std::string text(size_t n) {
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  // A newline-terminated line of GLOBAL (module or name), at most 256 characters.
  std::string line() {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start > 256) error("a GLOBAL name longer than 256 characters");
      ++pos_;
    }
    if (pos_ == size_) error("the pickle ends inside a GLOBAL name (a truncated file?)");
    std::string s(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.size() <= floor()) error("the stack is empty");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= floor()) error("the stack is empty");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The items pushed since the last MARK, which is removed.
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) error("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  ValuePtr scalar(Value::Kind kind, int64_t i) {
    ValuePtr v = Value::make(kind);
    v->i = i;
    return v;
  }
  ValuePtr string(Value::Kind kind, size_t n) {
    ValuePtr v = Value::make(kind);
    v->s = text(n);
    return v;
  }
  ValuePtr tuple(std::vector<ValuePtr> items) {
    ValuePtr v = Value::make(Value::Kind::Tuple);
    v->items = std::move(items);
    return v;
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) error(detail::concat("memo entry ", index, " was never stored"));
    push(it->second);
  }
  ValuePtr& expect(ValuePtr& v, Value::Kind kind, const char* what) {
    if (!v->is(kind))
      error(detail::concat(what, " is a ", kind_name(v->kind), ", not a ", kind_name(kind)));
    return v;
  }
  void set_items(ValuePtr& dict, std::vector<ValuePtr>& kv) {
    expect(dict, Value::Kind::Dict, "the target of SETITEM(S)");
    if (kv.size() % 2) error("SETITEMS with an odd number of items");
    for (const ValuePtr& x : kv) refuse_cycle(dict, x);
    for (size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  }
  // Values are reference-counted, so a container put inside itself (directly, or through the
  // memo: `}q\x04(h\x04h\x04u`, found by fuzz_torch_checkpoint) would never be freed, and a
  // reader walking it would never end. No weight file has one: inserting x into `container` is
  // refused when `container` can be reached from x. The search visits each value once, and all
  // searches of one pickle together at most kMaxCycleSteps values, so that a hostile pickle
  // cannot make them quadratic.
  void refuse_cycle(const ValuePtr& container, const ValuePtr& x) {
    static constexpr uint64_t kMaxCycleSteps = uint64_t{1} << 26;
    if (x.get() != container.get() && x->items.empty() && x->entries.empty())
      return;  // no children: nothing to reach
    std::unordered_set<const Value*> seen;
    std::vector<const Value*> todo{x.get()};
    while (!todo.empty()) {
      const Value* v = todo.back();
      todo.pop_back();
      if (v == container.get())
        error(std::string("a ") + kind_name(container->kind) +
              " would contain itself (a reference cycle, which no weight file has)");
      if (!seen.insert(v).second) continue;
      if (++cycle_steps_ > kMaxCycleSteps) error("the pickle nests its containers too deeply");
      for (const ValuePtr& c : v->items) todo.push_back(c.get());
      for (const auto& [k, val] : v->entries) todo.push_back(k.get()), todo.push_back(val.get());
    }
  }
  void global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!hooks_.allowed(full))
      error("global '" + full + "' is not allowed in a weight file (a pickle can make Python " +
            "run any global it names; this reader accepts only " + hooks_.allowed_list() + ")");
    ValuePtr g = Value::make(Value::Kind::Global);
    g->s = full;
    push(std::move(g));
  }

  void step(uint8_t op) {
    using K = Value::Kind;
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t version = take(1)[0];
        if (version < 2 || version > 5) error(detail::concat("pickle protocol ", int(version)));
        return;
      }
      case 0x95:
        little(8);
        return;  // FRAME: a length hint, nothing to do
      case '(':
        marks_.push_back(stack_.size());
        return;  // MARK
      case 'N':
        push(Value::make(K::None));
        return;
      case 0x88:
        push(scalar(K::Bool, 1));
        return;  // NEWTRUE
      case 0x89:
        push(scalar(K::Bool, 0));
        return;  // NEWFALSE
      case 'J':
        push(scalar(K::Int, int32_t(uint32_t(little(4)))));
        return;  // BININT
      case 'K':
        push(scalar(K::Int, int64_t(little(1))));
        return;  // BININT1
      case 'M':
        push(scalar(K::Int, int64_t(little(2))));
        return;     // BININT2
      case 0x8a: {  // LONG1: n bytes, little-endian two's complement
        const size_t n = take(1)[0];
        const std::string bytes = text(n);
        if (n <= 8) {
          uint64_t v = 0;
          for (size_t k = 0; k < n; ++k) v |= uint64_t(uint8_t(bytes[k])) << (8 * k);
          if (n > 0 && n < 8 && (uint8_t(bytes[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);
          push(scalar(K::Int, int64_t(v)));
        } else {
          ValuePtr v = Value::make(K::BigInt);
          v->s = bytes;
          push(std::move(v));
        }
        return;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = bits << 8 | p[k];
        ValuePtr v = Value::make(K::Float);
        std::memcpy(&v->f, &bits, sizeof bits);
        push(std::move(v));
        return;
      }
      case 'X':
        push(string(K::String, little(4)));
        return;  // BINUNICODE
      case 0x8c:
        push(string(K::String, little(1)));
        return;  // SHORT_BINUNICODE
      case 0x8d:
        push(string(K::String, little(8)));
        return;  // BINUNICODE8
      case 'T':
        push(string(K::String, little(4)));
        return;  // BINSTRING
      case 'U':
        push(string(K::String, little(1)));
        return;  // SHORT_BINSTRING
      case 'B':
        push(string(K::Bytes, little(4)));
        return;  // BINBYTES
      case 'C':
        push(string(K::Bytes, little(1)));
        return;  // SHORT_BINBYTES
      case 0x8e:
        push(string(K::Bytes, little(8)));
        return;  // BINBYTES8
      case ')':
        push(tuple({}));
        return;  // EMPTY_TUPLE
      case 't':
        push(tuple(pop_to_mark()));
        return;     // TUPLE
      case 0x85: {  // TUPLE1
        ValuePtr a = pop();
        push(tuple({a}));
        return;
      }
      case 0x86: {  // TUPLE2
        ValuePtr b = pop(), a = pop();
        push(tuple({a, b}));
        return;
      }
      case 0x87: {  // TUPLE3
        ValuePtr c = pop(), b = pop(), a = pop();
        push(tuple({a, b, c}));
        return;
      }
      case ']':
        push(Value::make(K::List));
        return;    // EMPTY_LIST
      case 'a': {  // APPEND
        ValuePtr x = pop();
        refuse_cycle(expect(top(), K::List, "the target of APPEND"), x);
        top()->items.push_back(std::move(x));
        return;
      }
      case 'e': {  // APPENDS
        std::vector<ValuePtr> xs = pop_to_mark();
        ValuePtr& list = expect(top(), K::List, "the target of APPENDS");
        for (const ValuePtr& x : xs) refuse_cycle(list, x);
        for (ValuePtr& x : xs) list->items.push_back(std::move(x));
        return;
      }
      case '}':
        push(Value::make(K::Dict));
        return;    // EMPTY_DICT
      case 's': {  // SETITEM
        ValuePtr v = pop(), k = pop();
        std::vector<ValuePtr> kv{k, v};
        set_items(top(), kv);
        return;
      }
      case 'u': {  // SETITEMS
        std::vector<ValuePtr> kv = pop_to_mark();
        set_items(top(), kv);
        return;
      }
      case 'q':
        memo_put(little(1));
        return;  // BINPUT
      case 'r':
        memo_put(little(4));
        return;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        return;  // MEMOIZE
      case 'h':
        memo_get(little(1));
        return;  // BINGET
      case 'j':
        memo_get(little(4));
        return;    // LONG_BINGET
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        global(module, line());
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop(), module = pop();
        expect(module, K::String, "the module of STACK_GLOBAL");
        expect(name, K::String, "the name of STACK_GLOBAL");
        global(module->s, name->s);
        return;
      }
      case 'R': {  // REDUCE: callable(*args), answered by the hooks
        ValuePtr args = pop(), callable = pop();
        expect(callable, K::Global, "the callable of REDUCE");
        expect(args, K::Tuple, "the arguments of REDUCE");
        push(hooks_.call(callable->s, *args, offset()));
        return;
      }
      case 'b': {  // BUILD: an object's state. For a dict (an OrderedDict's attributes, such as
                   // a state dict's _metadata) it is read and set aside; nothing else has state.
        ValuePtr state = pop();
        if (!top()->is(K::Dict)) error("BUILD on a " + std::string(kind_name(top()->kind)));
        return;
      }
      case 'Q': {  // BINPERSID
        ValuePtr pid = pop();
        push(hooks_.persistent_load(*pid, offset()));
        return;
      }
      case '0':
        pop();
        return;  // POP
      default:
        error("not an opcode this reader accepts in a weight file");
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0, op_at_ = 0;
  const Source& source_;
  Hooks& hooks_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  uint64_t cycle_steps_ = 0;  // values visited by refuse_cycle, all calls together
};

}  // namespace

ValuePtr read(const uint8_t* data, size_t size, const Source& source, Hooks& hooks, size_t* end) {
  Machine machine(data, size, source, hooks);
  return machine.run(end);
}

}  // namespace busi::weights::pickle
