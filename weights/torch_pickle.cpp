// The hooks of torch_pickle.h: the short list of globals a state dict may name, and what
// "calling" each of them (REDUCE) or loading a persistent id gives, checked field by field.
#include "weights/torch_pickle.h"

#include "kernels/common/error.h"

namespace busi::weights {

namespace {

using pickle::Value;
using pickle::ValuePtr;
using Kind = pickle::Value::Kind;

const TorchStorageType kStorageTypes[] = {
    {"torch.FloatStorage", "float32", 4, true},     {"torch.HalfStorage", "float16", 2, true},
    {"torch.BFloat16Storage", "bfloat16", 2, true}, {"torch.DoubleStorage", "float64", 8, true},
    {"torch.LongStorage", "int64", 8, false},       {"torch.IntStorage", "int32", 4, false},
    {"torch.ShortStorage", "int16", 2, false},      {"torch.CharStorage", "int8", 1, false},
    {"torch.ByteStorage", "uint8", 1, false},       {"torch.BoolStorage", "bool", 1, false},
};

const char* const kFunctions[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                  "torch._utils._rebuild_tensor",
                                  "torch._utils._rebuild_parameter"};

const TorchStorageType* storage_type(const std::string& global) {
  for (const TorchStorageType& t : kStorageTypes)
    if (global == t.global) return &t;
  return nullptr;
}

// A non-negative integer field, at most `limit`.
int64_t count(const pickle::Source& src, uint64_t offset, const Value& v, const char* what,
              int64_t limit = int64_t(1) << 48) {
  if (!v.is(Kind::Int))
    pickle::fail(src, offset,
                 std::string(what) + " is a " + pickle::kind_name(v.kind) + ", not an int");
  if (v.i < 0 || v.i > limit)
    pickle::fail(src, offset, detail::concat(what, " is ", v.i, ", outside 0..", limit));
  return v.i;
}

std::vector<int64_t> ints(const pickle::Source& src, uint64_t offset, const Value& v,
                          const char* what) {
  if (!v.is(Kind::Tuple) && !v.is(Kind::List))
    pickle::fail(
        src, offset,
        std::string(what) + " is a " + pickle::kind_name(v.kind) + ", not a tuple of ints");
  if (v.items.size() > 16)
    pickle::fail(src, offset,
                 detail::concat(what, " has ", v.items.size(), " dimensions (at most 16)"));
  std::vector<int64_t> out;
  for (const ValuePtr& x : v.items) out.push_back(count(src, offset, *x, what));
  return out;
}

}  // namespace

bool TorchPickleHooks::allowed(const std::string& global) const {
  for (const char* f : kFunctions)
    if (global == f) return true;
  return storage_type(global) != nullptr;
}

std::string TorchPickleHooks::allowed_list() const {
  std::string list;
  for (const char* f : kFunctions) list += std::string(list.empty() ? "" : ", ") + f;
  return list + " and the torch.*Storage types";
}

ValuePtr TorchPickleHooks::call(const std::string& global, const Value& args, uint64_t offset) {
  if (global == "collections.OrderedDict") {
    // OrderedDict(): an empty dict (its items come by SETITEMS). OrderedDict(list of pairs) also.
    ValuePtr dict = Value::make(Kind::Dict);
    if (args.items.size() == 1 && args.items[0]->is(Kind::List)) {
      for (const ValuePtr& pair : args.items[0]->items) {
        if (!pair->is(Kind::Tuple) || pair->items.size() != 2)
          pickle::fail(source_, offset, "OrderedDict of something other than (key, value) pairs");
        dict->entries.emplace_back(pair->items[0], pair->items[1]);
      }
    } else if (!args.items.empty()) {
      pickle::fail(source_, offset, "OrderedDict called with unexpected arguments");
    }
    return dict;
  }
  if (global == "torch._utils._rebuild_parameter") {  // (data, requires_grad, backward_hooks)
    if (args.items.size() != 3 || !args.items[0]->is(Kind::Handle) || args.items[0]->s != "tensor")
      pickle::fail(source_, offset, "_rebuild_parameter without a tensor as its first argument");
    return args.items[0];
  }
  if (global == "torch._utils._rebuild_tensor_v2" || global == "torch._utils._rebuild_tensor") {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
    const bool v2 = global == "torch._utils._rebuild_tensor_v2";
    const size_t n = args.items.size();
    if (v2 ? (n != 6 && n != 7) : n != 4)
      pickle::fail(source_, offset, detail::concat(global, " with ", n, " arguments"));
    const Value& storage = *args.items[0];
    if (!storage.is(Kind::Handle) || storage.s != "storage")
      pickle::fail(source_, offset, global + " whose first argument is not a storage");
    TorchTensorRef t;
    t.view = static_cast<size_t>(storage.i);
    t.offset = count(source_, offset, *args.items[1], "the storage offset");
    t.size = ints(source_, offset, *args.items[2], "the size");
    t.stride = ints(source_, offset, *args.items[3], "the stride");
    if (t.size.size() != t.stride.size())
      pickle::fail(source_, offset,
                   detail::concat("a tensor with ", t.size.size(), " sizes but ", t.stride.size(),
                                  " strides"));
    tensors.push_back(std::move(t));
    return Value::handle("tensor", static_cast<int64_t>(tensors.size() - 1));
  }
  pickle::fail(source_, offset, "'" + global + "' cannot be called");  // a storage type
}

ValuePtr TorchPickleHooks::persistent_load(const Value& pid, uint64_t offset) {
  // zip:    ('storage', storage_type, key, location, numel)
  // legacy: ('storage', storage_type, key, location, numel, view_metadata)
  //          view_metadata: None, or (view_key, offset, view_numel)
  const size_t fields = legacy_ ? 6 : 5;
  if (!pid.is(Kind::Tuple) || pid.items.size() != fields || !pid.items[0]->is(Kind::String) ||
      pid.items[0]->s != "storage")
    pickle::fail(source_, offset,
                 detail::concat("a persistent id that is not a ", fields,
                                "-field ('storage', ...) tuple: this is not a PyTorch ",
                                legacy_ ? "legacy" : "zip", " checkpoint"));
  const Value& type = *pid.items[1];
  const TorchStorageType* t = type.is(Kind::Global) ? storage_type(type.s) : nullptr;
  if (!t) pickle::fail(source_, offset, "a storage whose type is not a torch.*Storage");
  if (!pid.items[2]->is(Kind::String) || pid.items[2]->s.size() > 64)
    pickle::fail(source_, offset, "a storage key that is not a short string");
  const std::string& key = pid.items[2]->s;
  const uint64_t numel = count(source_, offset, *pid.items[4], "the storage's element count");
  // One storage per key: two tensors that share a storage name the same key.
  auto [it, fresh] = storage_index.try_emplace(key, storages.size());
  if (fresh) {
    storages.push_back(TorchStorage{key, t, numel, nullptr});
  } else if (storages[it->second].type != t || storages[it->second].numel != numel) {
    pickle::fail(source_, offset, "storage '" + key + "' appears with two types or sizes");
  }
  TorchStorageView view{it->second, 0, numel};
  if (legacy_ && !pid.items[5]->is(Kind::None)) {
    const Value& meta = *pid.items[5];
    if (!meta.is(Kind::Tuple) || meta.items.size() != 3)
      pickle::fail(source_, offset, "storage view metadata that is not (key, offset, size)");
    view.offset = count(source_, offset, *meta.items[1], "the storage view's offset");
    view.numel = count(source_, offset, *meta.items[2], "the storage view's size");
    if (view.offset > numel || view.numel > numel - view.offset)
      pickle::fail(source_, offset, "a storage view outside its storage");
  }
  views.push_back(view);
  return Value::handle("storage", static_cast<int64_t>(views.size() - 1));
}

}  // namespace busi::weights
