// Reading PyTorch checkpoints (torch.save of a state dict: torchvision's vgg16-397923af.pth, or a
// model's .pt) without Python, in both formats in use:
//   - zip (PyTorch 1.6 and later): <name>/data.pkl is the pickled state dict, whose tensors
//     refer to storages by key; <name>/data/<key> holds each storage's raw bytes;
//   - legacy (before 1.6; vgg16-397923af.pth is one): five pickles in a row - a magic number,
//     the protocol version, system information, the state dict, the list of storage keys - then
//     each storage as its element count (int64) and its raw bytes.
// The pickles go through the restricted unpickler (pickle_reader.h), which accepts only the
// globals a state dict of tensors needs; every storage, offset, size and stride is checked
// against the file before a value is read. Views into a storage, non-contiguous tensors and
// tensors sharing one storage read correctly.
#pragma once

#include <string>
#include <vector>

#include "engine/state_dict.h"

namespace busi::weights {

struct TorchCheckpoint {
  std::string format;                // "zip" or "legacy"
  StateDict tensors;                 // floating-point tensors as float32 CPU tensors, file order
  std::vector<std::string> skipped;  // other entries: "name (int64 tensor)", "name (int)"
};

// Reads the state dict of `path` (or the "state_dict" entry of a training checkpoint's dict).
// float16, bfloat16 and float64 tensors are converted to float32. Throws busi::Error naming the
// file, the byte offset and the problem for anything else: a global not allowed, an opcode not
// allowed, a truncated or damaged file, a tensor outside its storage.
TorchCheckpoint read_torch_checkpoint(const std::string& path);
// The same from bytes in memory (tests); `name` is used in messages.
TorchCheckpoint read_torch_checkpoint(std::vector<uint8_t> bytes, const std::string& name);

// True when the file begins like a PyTorch checkpoint (a ZIP archive, or a pickle).
bool looks_like_torch_checkpoint(const std::string& path);

}  // namespace busi::weights
