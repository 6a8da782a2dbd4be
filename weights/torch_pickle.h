// What a PyTorch state-dict pickle may contain, as the restricted unpickler's hooks
// (pickle_reader.h), for torch_checkpoint.cpp: the globals it may name (collections.OrderedDict,
// the tensor-rebuilding functions of torch._utils, the storage types), the storages its
// persistent ids refer to, and the tensors (views into those storages) it rebuilds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "weights/pickle_reader.h"

namespace busi::weights {

struct TorchStorageType {
  const char* global;  // "torch.FloatStorage"
  const char* dtype;   // "float32", for messages
  int element_size;    // bytes
  bool floating;       // read as float32 (float32, float16, bfloat16, float64)
};

// A storage of the file: its key, element type and count, and once the container has been read,
// where its bytes are.
struct TorchStorage {
  std::string key;
  const TorchStorageType* type = nullptr;
  uint64_t numel = 0;
  const uint8_t* data = nullptr;  // numel * element_size bytes
};

// A storage as a tensor sees it: legacy files may hand out a view of a larger storage.
struct TorchStorageView {
  size_t storage = 0;   // index into TorchPickleHooks::storages
  uint64_t offset = 0;  // elements into it
  uint64_t numel = 0;
};

// A tensor the pickle rebuilds: _rebuild_tensor_v2(storage, offset, size, stride, ...).
struct TorchTensorRef {
  size_t view = 0;  // index into TorchPickleHooks::views
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

class TorchPickleHooks : public pickle::Hooks {
 public:
  // `legacy`: persistent ids carry the legacy format's sixth field (view metadata).
  explicit TorchPickleHooks(bool legacy, pickle::Source source)
      : legacy_(legacy), source_(std::move(source)) {}

  bool allowed(const std::string& global) const override;
  std::string allowed_list() const override;
  pickle::ValuePtr call(const std::string& global, const pickle::Value& args,
                        uint64_t offset) override;
  pickle::ValuePtr persistent_load(const pickle::Value& pid, uint64_t offset) override;

  std::vector<TorchStorage> storages;
  std::map<std::string, size_t> storage_index;  // key -> index into storages
  std::vector<TorchStorageView> views;
  std::vector<TorchTensorRef> tensors;

 private:
  bool legacy_;
  pickle::Source source_;
};

}  // namespace busi::weights
