// The safetensors file format, read and written by the engine itself: an 8-byte little-endian
// header length N, N bytes of JSON (dtype, shape and byte range of each tensor, plus a
// "__metadata__" map of strings), then the raw little-endian tensor data. See weights/README.md.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state_dict.h"
#include "engine/tensor.h"

namespace busi::weights {

// The element types of the safetensors format. The engine computes in float32 and reads the four
// floating-point types (F16, BF16 and F64 are converted on load); the writer always writes F32.
// A file may hold tensors of the other types (the I64 "num_batches_tracked" of a PyTorch batch
// norm, for example): they are validated like any other, and only reading one is an error.
enum class FileDType {
  F32,      // read
  F16,      // read, converted to float32
  BF16,     // read, converted to float32
  F64,      // read, converted to float32
  F8_E5M2,  // this one and the rest: known to the format and checked, not read
  F8_E4M3,
  BOOL,
  U8,
  I8,
  U16,
  I16,
  U32,
  I32,
  U64,
  I64,
};
const char* file_dtype_name(FileDType dtype);  // "F32", as spelled in the header
size_t file_dtype_size(FileDType dtype);       // bytes per element
bool file_dtype_readable(FileDType dtype);     // F32, F16, BF16, F64

// One tensor of a file, as described by its header entry.
struct TensorEntry {
  std::string name;
  FileDType dtype = FileDType::F32;
  Shape shape;
  // Byte range [begin, end) relative to the start of the data section (the spec's
  // "data_offsets"), already checked against the data section's size.
  uint64_t begin = 0;
  uint64_t end = 0;

  int64_t numel() const { return shape_numel(shape); }
};

// A validated header: the tensors in header order, and the "__metadata__" map.
struct SafetensorsHeader {
  std::vector<TensorEntry> entries;
  std::map<std::string, std::string> metadata;
};

// Limits on what a file may claim, so that a corrupt length cannot trigger a huge allocation.
inline constexpr uint64_t kMaxHeaderBytes = 100u * 1024 * 1024;  // the reference library's limit

// Parses and validates the JSON header of a file whose data section has `data_bytes` bytes.
// Every rule of the format is checked (see the .cpp); errors are busi::Error messages that start
// with `origin` (the file name) and name the tensor and the problem.
SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_bytes,
                                           const std::string& origin);

// An open safetensors file: the header is read and validated when it is opened; tensor data is
// read on demand (a large file is never loaded whole).
class SafetensorsFile {
 public:
  // Opens `path` and validates its header against the file size. Throws busi::Error naming the
  // file if it is missing, unreadable, or not a valid safetensors file.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return header_.entries; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // The entry called `name`, or nullptr; entry() throws a clear error instead.
  const TensorEntry* find(const std::string& name) const;
  const TensorEntry& entry(const std::string& name) const;

  // Reads a tensor's values, converted to float32, into `dst` (entry.numel() floats). A tensor
  // of a type the engine does not read (file_dtype_readable) is an error naming the file, the
  // tensor and its dtype.
  void read_floats(const TensorEntry& entry, float* dst);
  std::vector<float> read_vector(const std::string& name);
  // A new CPU tensor with the entry's shape and values.
  Tensor read_tensor(const std::string& name);
  // Reads the entry into an existing tensor of the same shape, on the CPU (directly into its
  // memory) or on a GPU (through a host buffer and Tensor::copy_).
  void read_into(const TensorEntry& entry, const Tensor& dest);

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t data_start_ = 0;  // file offset of the data section: 8 + header length
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;  // tensor name -> position in entries()
};

// "" when the engine can read `entry`'s dtype, else "tensor 'x' has dtype I64, which the engine
// cannot read (...)": the problem, for messages that add the file name.
std::string unreadable_dtype_problem(const TensorEntry& entry);

// Shorthand for SafetensorsFile(path).
inline SafetensorsFile read_safetensors(const std::string& path) { return SafetensorsFile(path); }

// Writes `tensors` (float32, any device) in this order as F32, with `metadata` as
// "__metadata__", atomically (path.tmp, fsync, rename). Names must be unique, non-empty and not
// "__metadata__". The header is padded with spaces to a multiple of 8 bytes so the data is
// aligned, as the format recommends.
void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The header JSON write_safetensors() produces for `tensors` (exposed for tests and tools).
std::string encode_safetensors_header(const StateDict& tensors,
                                      const std::map<std::string, std::string>& metadata);

}  // namespace busi::weights
