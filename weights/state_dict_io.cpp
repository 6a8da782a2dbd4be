// Loading a weight file into a StateDict with every check of state_dict_io.h, and saving one.
#include "weights/state_dict_io.h"

#include <algorithm>
#include <unordered_map>

#include "kernels/common/error.h"
#include "weights/metadata.h"

namespace busi::weights {

std::string join_names(const std::vector<std::string>& names, const std::string& separator) {
  if (names.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += separator;
    out += names[i];
  }
  return out;
}

std::vector<std::string> layer_names(const std::vector<std::string>& tensor_names) {
  std::vector<std::string> layers;
  for (const std::string& name : tensor_names) {
    const size_t dot = name.rfind('.');
    const std::string layer = dot == std::string::npos ? name : name.substr(0, dot);
    if (layers.empty() || layers.back() != layer) {
      bool seen = false;
      for (const std::string& l : layers) seen = seen || l == layer;
      if (!seen) layers.push_back(layer);
    }
  }
  return layers;
}

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool missing_is_allowed(const std::string& name, const std::set<std::string>& allowed) {
  for (const std::string& a : allowed)
    if (starts_with(name, a)) return true;  // an exact name is its own prefix
  return false;
}

// The allow_missing entries that are neither a model tensor's name nor a prefix of one: most
// likely a typo ("blok4_"), which would otherwise pass silently.
std::vector<std::string> unmatched_allow_missing(const StateDict& dest,
                                                 const std::set<std::string>& allowed) {
  std::vector<std::string> unmatched;
  for (const std::string& a : allowed) {
    bool matches = false;
    for (const NamedTensor& t : dest) matches = matches || starts_with(t.name, a);
    if (!matches) unmatched.push_back(a);
  }
  return unmatched;
}

// "'a', 'b', 'c'" for short lists, "'a', 'b', ... (25 in all)" for long ones, so errors stay
// readable.
std::string short_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 8;
  std::vector<std::string> shown;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) shown.push_back("'" + names[i] + "'");
  std::string list = join_names(shown);
  if (names.size() > kShown) list += ", ... (" + std::to_string(names.size()) + " in all)";
  return list;
}

}  // namespace

LoadReport load_state_dict(SafetensorsFile& file, const StateDict& dest,
                           const LoadOptions& options) {
  const std::string where = "safetensors file '" + file.path() + "'";

  std::unordered_map<std::string, size_t> dest_index;  // model name -> position in dest
  for (size_t i = 0; i < dest.size(); ++i)
    BUSI_CHECK(dest_index.emplace(dest[i].name, i).second, where,
               ": the model's state dict names two tensors '", dest[i].name, "'");

  // Match file tensors to model tensors (prefix, then rename), without writing anything yet.
  LoadReport report;
  report.metadata = file.metadata();
  std::vector<const TensorEntry*> source(dest.size(), nullptr);
  std::vector<std::string> problems;
  for (const TensorEntry& e : file.entries()) {
    if (!starts_with(e.name, options.prefix)) continue;
    std::string target = e.name.substr(options.prefix.size());
    if (auto r = options.rename.find(target); r != options.rename.end()) target = r->second;
    const auto it = dest_index.find(target);
    if (it == dest_index.end()) {
      report.unexpected.push_back(e.name);
      continue;
    }
    const size_t i = it->second;
    if (source[i] != nullptr) {
      problems.push_back("file tensors '" + source[i]->name + "' and '" + e.name +
                         "' both map to model tensor '" + target + "'");
      continue;
    }
    source[i] = &e;
    if (const std::string dtype_problem = unreadable_dtype_problem(e); !dtype_problem.empty())
      problems.push_back(dtype_problem);
    if (e.shape != dest[i].tensor.shape()) {
      const std::string file_name = e.name == target ? "" : " (in the file: '" + e.name + "')";
      problems.push_back("tensor '" + target + "'" + file_name + " has shape " +
                         shape_str(e.shape) + " in the file but the model expects " +
                         shape_str(dest[i].tensor.shape()));
    }
  }

  const std::vector<std::string> unmatched = unmatched_allow_missing(dest, options.allow_missing);
  if (!unmatched.empty())
    problems.push_back("LoadOptions::allow_missing names " + short_list(unmatched) +
                       ", which match" + (unmatched.size() > 1 ? "" : "es") +
                       " no tensor of the model (a typo?)");

  std::vector<std::string> not_allowed;
  for (size_t i = 0; i < dest.size(); ++i) {
    if (source[i] != nullptr) continue;
    if (missing_is_allowed(dest[i].name, options.allow_missing)) {
      report.missing.push_back(dest[i].name);
    } else {
      not_allowed.push_back(dest[i].name);
    }
  }
  if (!not_allowed.empty())
    problems.push_back("missing tensor" + std::string(not_allowed.size() > 1 ? "s " : " ") +
                       short_list(not_allowed) +
                       " (the model needs them; LoadOptions::allow_missing lists the ones "
                       "that may keep their initial values)");
  if (!report.unexpected.empty() && !options.allow_unexpected)
    problems.push_back("unexpected tensor" +
                       std::string(report.unexpected.size() > 1 ? "s " : " ") +
                       short_list(report.unexpected) + " (not in the model)");

  // A file of which nothing lands in the model (another model's weights, or a file without
  // tensors) would otherwise "load" with every tensor allowed missing: "0 of 13 layers".
  const bool nothing_matches =
      !dest.empty() &&
      std::all_of(source.begin(), source.end(), [](const TensorEntry* e) { return e == nullptr; });
  if (nothing_matches)
    problems.push_back("no tensor of the file (" + std::to_string(file.entries().size()) +
                       " in all) is a tensor of the model" +
                       (options.prefix.empty() ? "" : " (with prefix '" + options.prefix + "')"));

  if (!problems.empty()) {
    throw Error(where + ": cannot load into the model: " + join_names(problems, "; "));
  }

  // All checks passed: copy the data.
  for (size_t i = 0; i < dest.size(); ++i) {
    if (source[i] == nullptr) continue;
    file.read_into(*source[i], dest[i].tensor);
    report.loaded.push_back(dest[i].name);
  }
  return report;
}

LoadReport load_state_dict(const std::string& path, const StateDict& dest,
                           const LoadOptions& options) {
  SafetensorsFile file(path);
  return load_state_dict(file, dest, options);
}

StateDict read_all_tensors(SafetensorsFile& file, const std::string& prefix) {
  StateDict out;
  for (const TensorEntry& e : file.entries()) {
    if (!starts_with(e.name, prefix)) continue;
    Tensor t = Tensor::empty(e.shape);
    file.read_floats(e, t.data());
    out.push_back({e.name.substr(prefix.size()), t});
  }
  return out;
}

void save_state_dict(const std::string& path, const StateDict& tensors,
                     std::map<std::string, std::string> metadata) {
  metadata.emplace(kFormatKey, kWeightsFormat);  // keeps a "format" the caller gave
  write_safetensors(path, tensors, metadata);
}

}  // namespace busi::weights
