// Reading (with full validation) and writing of safetensors files; see safetensors.h and the
// format's rules quoted in weights/README.md.
#include "weights/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <set>

#include "kernels/common/error.h"
#include "weights/atomic_file.h"
#include "weights/float_formats.h"
#include "weights/json.h"

namespace busi::weights {

// Tensor data is little-endian in the file and is copied to and from memory byte for byte.
static_assert(std::endian::native == std::endian::little,
              "the safetensors reader and writer assume a little-endian machine");

namespace {

// Every dtype of the safetensors format (its "Dtype" enum; the sub-byte F4/F6 types of recent
// versions are not listed and are refused as unknown), with its size in bytes and whether the
// engine reads it.
struct DTypeInfo {
  FileDType dtype;
  const char* name;
  size_t size;
  bool readable;
};
constexpr DTypeInfo kDTypes[] = {
    {FileDType::F32, "F32", 4, true},          {FileDType::F16, "F16", 2, true},
    {FileDType::BF16, "BF16", 2, true},        {FileDType::F64, "F64", 8, true},
    {FileDType::F8_E5M2, "F8_E5M2", 1, false}, {FileDType::F8_E4M3, "F8_E4M3", 1, false},
    {FileDType::BOOL, "BOOL", 1, false},       {FileDType::U8, "U8", 1, false},
    {FileDType::I8, "I8", 1, false},           {FileDType::U16, "U16", 2, false},
    {FileDType::I16, "I16", 2, false},         {FileDType::U32, "U32", 4, false},
    {FileDType::I32, "I32", 4, false},         {FileDType::U64, "U64", 8, false},
    {FileDType::I64, "I64", 8, false},
};

const DTypeInfo& info_of(FileDType dtype) {
  for (const DTypeInfo& d : kDTypes)
    if (d.dtype == dtype) return d;
  throw Error("safetensors: unknown FileDType " + std::to_string(static_cast<int>(dtype)));
}

}  // namespace

const char* file_dtype_name(FileDType dtype) { return info_of(dtype).name; }
size_t file_dtype_size(FileDType dtype) { return info_of(dtype).size; }
bool file_dtype_readable(FileDType dtype) { return info_of(dtype).readable; }

std::string unreadable_dtype_problem(const TensorEntry& entry) {
  if (file_dtype_readable(entry.dtype)) return "";
  return "tensor '" + entry.name + "' has dtype " + file_dtype_name(entry.dtype) +
         ", which the engine cannot read (it reads F32, F16, BF16 and F64)";
}

namespace {

constexpr const char* kMetadataKey = "__metadata__";

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string range_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// Any dtype of the format is accepted here (its size is needed to check the byte range);
// whether the engine can read it is checked when the tensor is read.
FileDType parse_dtype(const json::Value& v, const std::string& where) {
  BUSI_CHECK(v.is_string(), where, ": \"dtype\" must be a string, not an ",
             json::kind_name(v.kind));
  std::string known;
  for (const DTypeInfo& d : kDTypes) {
    if (v.string == d.name) return d.dtype;
    known += known.empty() ? d.name : std::string(", ") + d.name;
  }
  throw Error(where + ": unknown dtype " + quoted(v.string) + " (the safetensors dtypes are " +
              known + ")");
}

// The spec: "shape": list of integers, [] for a scalar.
Shape parse_shape(const json::Value& v, const std::string& where) {
  BUSI_CHECK(v.is_array(), where, ": \"shape\" must be an array of integers");
  Shape shape;
  for (const json::Value& d : v.array) {
    BUSI_CHECK(d.is_integer(), where, ": \"shape\" must be an array of integers");
    BUSI_CHECK(d.integer >= 0, where, ": negative dimension ", d.integer, " in \"shape\"");
    shape.push_back(d.integer);
  }
  return shape;
}

// The byte size numel x element size, or UINT64_MAX if it overflows (then it cannot match any
// real byte range).
uint64_t tensor_bytes(const Shape& shape, FileDType dtype) {
  uint64_t bytes = file_dtype_size(dtype);
  for (int64_t d : shape) {
    const uint64_t dim = static_cast<uint64_t>(d);
    if (dim != 0 && bytes > UINT64_MAX / dim) return UINT64_MAX;
    bytes *= dim;
  }
  return bytes;
}

TensorEntry parse_entry(const std::string& name, const json::Value& v, uint64_t data_bytes,
                        const std::string& origin) {
  const std::string where = origin + ": tensor " + quoted(name);
  BUSI_CHECK(!name.empty(), origin, ": a tensor has an empty name");
  BUSI_CHECK(v.is_object(), where, ": its header entry must be an object, not an ",
             json::kind_name(v.kind));
  for (const auto& [key, value] : v.members)
    BUSI_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", where,
               ": unknown field \"", key, "\" (expected dtype, shape, data_offsets)");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    BUSI_CHECK(v.find(key) != nullptr, where, ": missing field \"", key, "\"");

  TensorEntry e;
  e.name = name;
  e.dtype = parse_dtype(*v.find("dtype"), where);
  e.shape = parse_shape(*v.find("shape"), where);

  // The spec: "data_offsets": [BEGIN, END], relative to the start of the byte buffer.
  const json::Value& offsets = *v.find("data_offsets");
  BUSI_CHECK(offsets.is_array() && offsets.array.size() == 2 && offsets.array[0].is_integer() &&
                 offsets.array[1].is_integer(),
             where, ": \"data_offsets\" must be an array of two integers [begin, end]");
  const int64_t begin = offsets.array[0].integer;
  const int64_t end = offsets.array[1].integer;
  BUSI_CHECK(begin >= 0 && end >= begin, where, ": data_offsets [", begin, ", ", end,
             "] are not a valid byte range");
  e.begin = static_cast<uint64_t>(begin);
  e.end = static_cast<uint64_t>(end);
  BUSI_CHECK(e.end <= data_bytes, where, ": data_offsets ", range_str(e.begin, e.end),
             " are out of range: the data section has only ", data_bytes,
             " bytes (is the file truncated?)");
  const uint64_t expected = tensor_bytes(e.shape, e.dtype);
  BUSI_CHECK(e.end - e.begin == expected, where, ": size mismatch: shape ", shape_str(e.shape),
             " of ", file_dtype_name(e.dtype), " needs ",
             expected == UINT64_MAX ? std::string("more than 2^64") : std::to_string(expected),
             " bytes but data_offsets ", range_str(e.begin, e.end), " hold ", e.end - e.begin);
  return e;
}

std::map<std::string, std::string> parse_metadata(const json::Value& v, const std::string& origin) {
  // The spec: "__metadata__" is a map from strings to strings (no nesting, no numbers).
  BUSI_CHECK(v.is_object(), origin, ": \"__metadata__\" must be an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : v.members) {
    BUSI_CHECK(value.is_string(), origin, ": \"__metadata__\" value of \"", key,
               "\" must be a string, not an ", json::kind_name(value.kind));
    metadata[key] = value.string;
  }
  return metadata;
}

// The spec requires the byte buffer to be entirely indexed, without holes or overlaps (this
// rules out hidden payloads and aliased tensors): sorted by offset, the tensors must tile
// [0, data_bytes) exactly.
void check_tiling(std::vector<TensorEntry> entries, uint64_t data_bytes,
                  const std::string& origin) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;  // end of the bytes claimed so far
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& e : entries) {
    BUSI_CHECK(e.begin >= covered, origin, ": overlapping data_offsets: tensor ", quoted(e.name),
               " ", range_str(e.begin, e.end), " overlaps tensor ",
               quoted(previous ? previous->name : ""), " ",
               range_str(previous ? previous->begin : 0, covered));
    BUSI_CHECK(e.begin == covered, origin, ": bytes ", range_str(covered, e.begin),
               " of the data section belong to no tensor (a hole before tensor ", quoted(e.name),
               ")");
    covered = e.end;
    previous = &e;
  }
  BUSI_CHECK(covered == data_bytes, origin, ": the data section has ", data_bytes,
             " bytes but the tensors use only ", covered, " (trailing bytes)");
}

// A friendlier diagnosis when the file is some other well-known format.
std::string guess_other_format(const unsigned char* head, size_t n) {
  if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
    return " (it looks like a zip archive, e.g. a PyTorch .pth file: convert it with "
           "convert_weights --from torchvision)";
  if (n >= 4 && head[0] == 0x89 && head[1] == 'H' && head[2] == 'D' && head[3] == 'F')
    return " (it is an HDF5 file, e.g. Keras weights: convert it with "
           "convert_weights --from keras)";
  if (n >= 1 && head[0] == 0x80)
    return " (it looks like a Python pickle, e.g. a legacy PyTorch .pth file: convert it with "
           "convert_weights --from torchvision)";
  return "";
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_bytes,
                                           const std::string& origin) {
  // The spec: the header "starts with '{'" and may be padded at the end with spaces.
  BUSI_CHECK(!json.empty() && json[0] == '{', origin, ": bad JSON header: it must start with '{'");
  const json::Value root = json::parse(json, origin);
  BUSI_CHECK(root.is_object(), origin, ": the JSON header must be an object");

  SafetensorsHeader header;
  for (const auto& [key, value] : root.members) {
    if (key == kMetadataKey) {
      header.metadata = parse_metadata(value, origin);
    } else {
      header.entries.push_back(parse_entry(key, value, data_bytes, origin));
    }
  }
  check_tiling(header.entries, data_bytes, origin);
  return header;
}

// ---- Reading ------------------------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  const std::string where = "safetensors file '" + path + "'";
  std::error_code ec;
  BUSI_CHECK(fs::exists(path, ec), where, ": no such file");
  BUSI_CHECK(fs::is_regular_file(path, ec), where, ": not a regular file");
  const uint64_t file_size = fs::file_size(path, ec);
  BUSI_CHECK(!ec, where, ": cannot read its size: ", ec.message());
  in_.open(path, std::ios::binary);
  BUSI_CHECK(in_.is_open(), where, ": cannot open it for reading");

  unsigned char head[8] = {};
  const size_t head_bytes = static_cast<size_t>(std::min<uint64_t>(file_size, 8));
  in_.read(reinterpret_cast<char*>(head), static_cast<std::streamsize>(head_bytes));
  BUSI_CHECK(in_.gcount() == static_cast<std::streamsize>(head_bytes), where,
             ": read error at the start of the file");
  BUSI_CHECK(file_size >= 8, where, ": truncated: only ", file_size,
             " bytes, less than the 8-byte header length", guess_other_format(head, head_bytes));

  // The spec: the first 8 bytes are an unsigned little-endian 64-bit integer, the size N of
  // the JSON header that follows.
  const uint64_t header_bytes = read_u64_le(head);
  BUSI_CHECK(header_bytes <= file_size - 8, where, ": header length ", header_bytes,
             " is past the end of the file (", file_size, " bytes): truncated, or not a ",
             "safetensors file", guess_other_format(head, head_bytes));
  BUSI_CHECK(header_bytes <= kMaxHeaderBytes, where, ": header length ", header_bytes,
             " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  std::string json(static_cast<size_t>(header_bytes), '\0');
  in_.read(json.data(), static_cast<std::streamsize>(header_bytes));
  BUSI_CHECK(in_.gcount() == static_cast<std::streamsize>(header_bytes), where,
             ": read error in the header");

  data_start_ = 8 + header_bytes;
  header_ = parse_safetensors_header(json, file_size - data_start_, where);
  // Names are unique (the JSON parser refuses duplicate keys), so each has one position. A tree,
  // not a hash table: no crafted set of names can make the lookups slow.
  for (size_t i = 0; i < header_.entries.size(); ++i) index_[header_.entries[i].name] = i;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.entries[it->second];
}

const TensorEntry& SafetensorsFile::entry(const std::string& name) const {
  const TensorEntry* e = find(name);
  BUSI_CHECK(e != nullptr, "safetensors file '", path_, "': no tensor '", name, "'");
  return *e;
}

void SafetensorsFile::read_floats(const TensorEntry& entry, float* dst) {
  const std::string problem = unreadable_dtype_problem(entry);
  BUSI_CHECK(problem.empty(), "safetensors file '", path_, "': ", problem);
  const uint64_t bytes = entry.end - entry.begin;
  if (bytes == 0) return;
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(data_start_ + entry.begin));
  // F32 goes straight into the destination; other dtypes through a byte buffer.
  std::vector<unsigned char> buffer;
  char* target = reinterpret_cast<char*>(dst);
  if (entry.dtype != FileDType::F32) {
    buffer.resize(static_cast<size_t>(bytes));
    target = reinterpret_cast<char*>(buffer.data());
  }
  in_.read(target, static_cast<std::streamsize>(bytes));
  BUSI_CHECK(in_.gcount() == static_cast<std::streamsize>(bytes), "safetensors file '", path_,
             "': tensor '", entry.name, "': the file ended early (was it changed while open?)");

  const size_t n = static_cast<size_t>(entry.numel());
  const unsigned char* p = buffer.data();
  switch (entry.dtype) {
    case FileDType::F32:
      break;
    case FileDType::F16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t bits = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        dst[i] = half_to_float(bits);
      }
      break;
    case FileDType::BF16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t bits = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        dst[i] = bfloat16_to_float(bits);
      }
      break;
    case FileDType::F64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        dst[i] = double_to_float(v);
      }
      break;
    default:
      break;  // not reached: unreadable dtypes were refused above
  }
}

std::vector<float> SafetensorsFile::read_vector(const std::string& name) {
  const TensorEntry& e = entry(name);
  std::vector<float> values(static_cast<size_t>(e.numel()));
  read_floats(e, values.data());
  return values;
}

Tensor SafetensorsFile::read_tensor(const std::string& name) {
  const TensorEntry& e = entry(name);
  Tensor t = Tensor::empty(e.shape);
  read_floats(e, t.data());
  return t;
}

void SafetensorsFile::read_into(const TensorEntry& entry, const Tensor& dest) {
  BUSI_CHECK(dest.defined(), "safetensors file '", path_, "': tensor '", entry.name,
             "': the destination tensor is undefined");
  BUSI_CHECK(dest.shape() == entry.shape, "safetensors file '", path_, "': tensor '", entry.name,
             "' has shape ", shape_str(entry.shape), " in the file but the destination has ",
             shape_str(dest.shape()));
  if (!dest.is_cuda()) {
    read_floats(entry, dest.data());
    return;
  }
  Tensor host = Tensor::empty(entry.shape);
  read_floats(entry, host.data());
  Tensor handle = dest;  // a second handle to the same storage (copy_ is a non-const method)
  handle.copy_(host);
}

// ---- Writing ------------------------------------------------------------------------------------

std::string encode_safetensors_header(const StateDict& tensors,
                                      const std::map<std::string, std::string>& metadata) {
  std::string json = "{";
  bool first = true;
  if (!metadata.empty()) {
    json += json::quote(kMetadataKey) + ":{";
    for (const auto& [key, value] : metadata) {
      if (!first) json += ",";
      first = false;
      json += json::quote(key) + ":" + json::quote(value);
    }
    json += "}";
    first = false;
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    BUSI_CHECK(!t.name.empty(), "safetensors writer: a tensor has an empty name");
    BUSI_CHECK(t.name != kMetadataKey, "safetensors writer: '", kMetadataKey,
               "' is reserved and cannot name a tensor");
    BUSI_CHECK(seen.insert(t.name).second, "safetensors writer: duplicate tensor name '", t.name,
               "'");
    BUSI_CHECK(t.tensor.defined(), "safetensors writer: tensor '", t.name, "' is undefined");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor.numel()) * 4;
    if (!first) json += ",";
    first = false;
    json += json::quote(t.name) + ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t d = 0; d < t.tensor.shape().size(); ++d) {
      if (d > 0) json += ",";
      json += std::to_string(t.tensor.shape()[d]);
    }
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) +
            "]}";
    offset += bytes;
  }
  json += "}";
  // Pad with spaces (allowed by the spec) so that the data section starts 8-byte aligned.
  while (json.size() % 8 != 0) json += ' ';
  return json;
}

void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string json = encode_safetensors_header(tensors, metadata);
  AtomicFile file(path);
  unsigned char length[8];
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i, n >>= 8) length[i] = static_cast<unsigned char>(n & 0xFF);
  file.write(length, 8);
  file.write(json.data(), json.size());
  for (const NamedTensor& t : tensors) {
    const size_t bytes = static_cast<size_t>(t.tensor.numel()) * 4;
    if (bytes == 0) continue;
    if (t.tensor.is_cuda()) {
      const std::vector<float> host = t.tensor.to_vector();
      file.write(host.data(), bytes);
    } else {
      file.write(t.tensor.data(), bytes);  // contiguous float32, little-endian like the file
    }
  }
  file.commit();
}

}  // namespace busi::weights
