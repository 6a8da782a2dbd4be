// Loading a weight file into a model's StateDict (every expected tensor present with the
// expected shape, partial loading only where explicitly allowed, a report of what was loaded)
// and saving a StateDict as a weight file.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/state_dict.h"
#include "weights/safetensors.h"

namespace busi::weights {

struct LoadOptions {
  // Model tensors that may be absent from the file: exact names, or prefixes ("block4_" covers
  // block4_conv1.weight ...; "head_" the new head). They keep their current (initial) values.
  // Each entry must match at least one model tensor: one that matches none (a typo) is an error.
  std::set<std::string> allow_missing;
  // File name -> model name, applied before matching (e.g. torchvision's "features.0.weight" ->
  // "block1_conv1.weight", see vgg16_names.h). File names not listed keep their name.
  std::map<std::string, std::string> rename;
  // File tensors the model does not have: an error unless true (then listed in the report).
  bool allow_unexpected = false;
  // Only file tensors whose name starts with this prefix take part, with the prefix removed
  // ("model." in checkpoints); the others are ignored, not "unexpected".
  std::string prefix;
};

struct LoadReport {
  std::vector<std::string> loaded;      // model tensors set from the file (model order)
  std::vector<std::string> missing;     // model tensors absent from the file (allowed)
  std::vector<std::string> unexpected;  // file tensors (file names) the model has no use for
  std::map<std::string, std::string> metadata;  // the file's "__metadata__"
};

// Loads the tensors of `file` into `dest` (whose tensors share storage with a model, so this
// sets the model's weights; CPU or CUDA). Everything is checked before anything is written:
// each model tensor present (unless allowed missing) with the same shape and a dtype the engine
// reads, no unexpected tensor (unless allowed), no two file tensors renamed onto one model
// tensor, every allow_missing entry matching a model tensor, and at least one tensor loaded (a
// file with nothing for the model is an error, not "0 of 13 layers"). Errors name the file,
// the tensors and the mismatch. F16/BF16/F64 data is converted to float32.
LoadReport load_state_dict(SafetensorsFile& file, const StateDict& dest,
                           const LoadOptions& options = {});
LoadReport load_state_dict(const std::string& path, const StateDict& dest,
                           const LoadOptions& options = {});

// Every tensor of `file` whose name starts with `prefix`, as new CPU tensors named without the
// prefix, in file order (for state whose tensors do not exist yet, e.g. an optimiser's).
StateDict read_all_tensors(SafetensorsFile& file, const std::string& prefix = "");

// Writes `tensors` as a weight file (atomically); metadata "format" defaults to kWeightsFormat.
void save_state_dict(const std::string& path, const StateDict& tensors,
                     std::map<std::string, std::string> metadata = {});

// The layer names of tensor names, in first-seen order without repeats: the part before the last
// '.' ("block1_conv1.weight" -> "block1_conv1"). For messages like "5 of 13 conv layers".
std::vector<std::string> layer_names(const std::vector<std::string>& tensor_names);

// "a, b, c" (or "none").
std::string join_names(const std::vector<std::string>& names, const std::string& separator = ", ");

}  // namespace busi::weights
