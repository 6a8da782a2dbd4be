// PyTorch checkpoints, both containers (torch_checkpoint.h): find the pickles and the storages'
// bytes, unpickle the state dict through the restricted hooks (torch_pickle.h), then copy each
// tensor out of its storage, checked and converted to float32.
#include "weights/torch_checkpoint.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "kernels/common/error.h"
#include "weights/float_formats.h"
#include "weights/torch_pickle.h"
#include "weights/zip_archive.h"

namespace busi::weights {

namespace {

using pickle::Value;
using pickle::ValuePtr;
using Kind = pickle::Value::Kind;

// torch.save's legacy magic number 0x1950a86a20f9469cfc6c, as LONG1's little-endian bytes.
const std::string kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v |= uint64_t(p[k]) << (8 * k);
  return v;
}

// Element e of a storage, as a float.
float element(const TorchStorage& s, uint64_t e) {
  const uint8_t* p = s.data + e * s.type->element_size;
  switch (s.type->element_size) {
    case 4: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case 2: {
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      return std::strcmp(s.type->dtype, "bfloat16") == 0 ? bfloat16_to_float(bits)
                                                         : half_to_float(bits);
    }
    default: {
      double d;
      std::memcpy(&d, p, 8);
      return double_to_float(d);
    }
  }
}

// The tensor's values, after checking that every element it reads lies inside its storage:
// offset + sum_i (size_i - 1) * stride_i < the view's element count, computed without overflow.
// A tensor with more elements than its storage (an expanded view) is refused: no state dict
// holds one, and it would let a small file ask for any amount of memory.
Tensor materialise(const std::string& where, const std::string& name, const TorchPickleHooks& h,
                   const TorchTensorRef& t) {
  const TorchStorageView& view = h.views.at(t.view);
  const TorchStorage& storage = h.storages.at(view.storage);
  const Shape shape(t.size.begin(), t.size.end());
  uint64_t numel = 1;
  for (const int64_t size : t.size) {
    BUSI_CHECK(size == 0 || numel <= view.numel / static_cast<uint64_t>(size), where, ": tensor '",
               name, "' of size ", shape_str(shape), " has more elements than its storage ('",
               storage.key, "', ", view.numel, " elements)");
    numel *= static_cast<uint64_t>(size);
  }
  if (numel > 0) {
    uint64_t last = static_cast<uint64_t>(t.offset);  // the storage index of the last element
    bool inside = last < view.numel;
    for (size_t d = 0; inside && d < t.size.size(); ++d) {
      const uint64_t steps = static_cast<uint64_t>(t.size[d] - 1);
      const uint64_t stride = static_cast<uint64_t>(t.stride[d]);
      inside = stride == 0 || steps <= (view.numel - 1 - last) / stride;
      if (inside) last += steps * stride;
    }
    BUSI_CHECK(inside, where, ": tensor '", name, "' (offset ", t.offset, ", size ",
               shape_str(shape), ", stride ", shape_str(Shape(t.stride.begin(), t.stride.end())),
               ") reads past the end of its storage ('", storage.key, "', ", view.numel,
               " elements)");
  }
  Tensor out = Tensor::empty(shape);
  float* dst = out.data();
  // Walk the elements in row-major order, keeping the storage index of the current one.
  std::vector<int64_t> index(t.size.size(), 0);
  uint64_t at = view.offset + static_cast<uint64_t>(t.offset);
  for (uint64_t e = 0; e < numel; ++e) {
    dst[e] = element(storage, at);
    for (size_t d = t.size.size(); d-- > 0;) {
      if (++index[d] < t.size[d]) {
        at += static_cast<uint64_t>(t.stride[d]);
        break;
      }
      at -= static_cast<uint64_t>(t.stride[d]) * static_cast<uint64_t>(t.size[d] - 1);
      index[d] = 0;
    }
  }
  return out;
}

// The state dict inside the unpickled object, its tensors copied out.
TorchCheckpoint collect(const std::string& where, const ValuePtr& root, const TorchPickleHooks& h,
                        const std::string& format) {
  BUSI_CHECK(root->is(Kind::Dict), where, ": the checkpoint holds a ",
             pickle::kind_name(root->kind), ", not a state dict");
  const Value* dict = root.get();
  for (const auto& [k, v] : root->entries)  // a training checkpoint: {"state_dict": {...}, ...}
    if (k->is(Kind::String) && k->s == "state_dict" && v->is(Kind::Dict)) dict = v.get();
  TorchCheckpoint out;
  out.format = format;
  for (const auto& [k, v] : dict->entries) {
    BUSI_CHECK(k->is(Kind::String), where, ": a state dict key that is a ",
               pickle::kind_name(k->kind), ", not a name");
    if (!v->is(Kind::Handle) || v->s != "tensor") {
      out.skipped.push_back(k->s + " (" + pickle::kind_name(v->kind) + ")");
      continue;
    }
    const TorchTensorRef& t = h.tensors.at(static_cast<size_t>(v->i));
    const TorchStorage& s = h.storages.at(h.views.at(t.view).storage);
    BUSI_CHECK(s.data != nullptr, where, ": the data of storage '", s.key, "' (tensor '", k->s,
               "') is missing");
    if (!s.type->floating) {
      out.skipped.push_back(k->s + " (" + s.type->dtype + " tensor)");
      continue;
    }
    out.tensors.push_back({k->s, materialise(where, k->s, h, t)});
  }
  return out;
}

TorchCheckpoint read_zip(std::vector<uint8_t> bytes, const std::string& name) {
  ZipArchive zip(std::move(bytes), name);
  const ZipEntry* pickle_entry = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash) == "/data.pkl") {
      BUSI_CHECK(!pickle_entry, "'", name, "': two data.pkl entries (", pickle_entry->name, ", ",
                 e.name, ")");
      pickle_entry = &e;
    }
  }
  BUSI_CHECK(pickle_entry, "'", name,
             "' is a ZIP archive without <name>/data.pkl: not a "
             "PyTorch checkpoint");
  const std::string prefix = pickle_entry->name.substr(0, pickle_entry->name.find('/'));
  if (const ZipEntry* order = zip.find(prefix + "/byteorder")) {
    const std::string value(reinterpret_cast<const char*>(zip.data(*order)), order->size);
    BUSI_CHECK(value == "little", "'", name, "': byte order '", value,
               "' (only little-endian "
               "checkpoints are read)");
  }
  zip.verify(*pickle_entry);
  const pickle::Source source{"'" + name + "', " + pickle_entry->name, pickle_entry->offset};
  TorchPickleHooks hooks(false, source);
  const ValuePtr root = pickle::read(zip.data(*pickle_entry), pickle_entry->size, source, hooks);
  for (TorchStorage& s : hooks.storages) {
    const ZipEntry* e = zip.find(prefix + "/data/" + s.key);
    BUSI_CHECK(e, "'", name, "': storage '", s.key, "' has no entry ", prefix, "/data/", s.key);
    BUSI_CHECK(e->size / s.type->element_size >= s.numel, "'", name, "': entry ", e->name,
               " holds ", e->size, " bytes, less than its ", s.numel, " ", s.type->dtype,
               " elements");
    zip.verify(*e);
    s.data = zip.data(*e);
  }
  return collect("'" + name + "'", root, hooks, "zip");
}

TorchCheckpoint read_legacy(const std::vector<uint8_t>& bytes, const std::string& name) {
  size_t pos = 0;
  TorchPickleHooks hooks(true, {"'" + name + "'", 0});
  // The four pickles before the data; only the fourth may hold tensors.
  auto next = [&](const char* what) {
    const pickle::Source source{"'" + name + "' (" + what + ")", pos};
    TorchPickleHooks header_hooks(true, source);
    TorchPickleHooks& h = std::string(what) == "the state dict" ? hooks : header_hooks;
    size_t used = 0;
    const ValuePtr v = pickle::read(bytes.data() + pos, bytes.size() - pos, source, h, &used);
    pos += used;
    return v;
  };
  const ValuePtr magic = next("magic number");
  BUSI_CHECK(magic->is(Kind::BigInt) && magic->s == kLegacyMagic, "'", name,
             "' is not a PyTorch checkpoint (no torch.save magic number)");
  const ValuePtr version = next("protocol version");
  BUSI_CHECK(version->is(Kind::Int) && version->i == 1001, "'", name, "': legacy protocol version ",
             version->i, " (expected 1001)");
  const ValuePtr info = next("system information");
  BUSI_CHECK(info->is(Kind::Dict), "'", name, "': the system information is not a dict");
  for (const auto& [k, v] : info->entries)
    if (k->is(Kind::String) && k->s == "little_endian")
      BUSI_CHECK(v->is(Kind::Bool) && v->i == 1, "'", name,
                 "' was written on a big-endian machine (only little-endian is read)");
  const ValuePtr root = next("the state dict");
  const ValuePtr keys = next("storage keys");
  BUSI_CHECK(keys->is(Kind::List), "'", name, "': the storage key list is not a list");
  // Then each storage in that order: its element count as int64, then its bytes.
  for (const ValuePtr& key : keys->items) {
    BUSI_CHECK(key->is(Kind::String), "'", name, "': a storage key that is not a string");
    const auto it = hooks.storage_index.find(key->s);
    BUSI_CHECK(it != hooks.storage_index.end(), "'", name, "': storage '", key->s,
               "' is listed but no tensor uses it");
    TorchStorage& s = hooks.storages[it->second];
    BUSI_CHECK(bytes.size() - pos >= 8, "'", name, "': byte ", pos,
               ": the file ends before "
               "storage '",
               s.key, "' (a truncated file?)");
    const uint64_t numel = load_le64(bytes.data() + pos);
    BUSI_CHECK(numel == s.numel, "'", name, "': byte ", pos, ": storage '", s.key, "' has ", numel,
               " elements, the state dict says ", s.numel);
    pos += 8;
    BUSI_CHECK(numel <= (bytes.size() - pos) / s.type->element_size, "'", name, "': byte ", pos,
               ": the file ends inside storage '", s.key, "' (", numel, " ", s.type->dtype,
               " elements; a truncated file?)");
    s.data = bytes.data() + pos;
    pos += numel * s.type->element_size;
  }
  return collect("'" + name + "'", root, hooks, "legacy");
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BUSI_CHECK(in, "cannot open '", path, "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  BUSI_CHECK(!in.bad(), "cannot read '", path, "'");
  return bytes;
}

}  // namespace

TorchCheckpoint read_torch_checkpoint(std::vector<uint8_t> bytes, const std::string& name) {
  if (ZipArchive::looks_like_zip(bytes.data(), bytes.size()))
    return read_zip(std::move(bytes), name);
  BUSI_CHECK(bytes.size() >= 2 && bytes[0] == 0x80, "'", name,
             "' is neither a ZIP archive nor a pickle: not a PyTorch checkpoint");
  return read_legacy(bytes, name);
}

TorchCheckpoint read_torch_checkpoint(const std::string& path) {
  return read_torch_checkpoint(read_file(path), path);
}

bool looks_like_torch_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t head[4] = {};
  in.read(reinterpret_cast<char*>(head), 4);
  return in.gcount() >= 2 && (ZipArchive::looks_like_zip(head, static_cast<size_t>(in.gcount())) ||
                              (head[0] == 0x80 && head[1] >= 2 && head[1] <= 5));
}

}  // namespace busi::weights
