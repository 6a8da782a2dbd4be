// scan_folder: class folders -> sorted samples, checked files, byte-identical groups, label
// conflicts, the summary line.
#include "data/dataset.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>

#include "data/image.h"
#include "kernels/common/error.h"

namespace busi::data {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool has_image_extension(const fs::path& file) {
  const std::string ext = lower(file.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// BUSI's segmentation masks: "<name>_mask.png" and, for a second lesion, "<name>_mask_1.png".
bool is_mask_name(const fs::path& file) {
  const std::string stem = lower(file.stem().string());
  const size_t at = stem.rfind("_mask");
  if (at == std::string::npos) return false;
  const std::string rest = stem.substr(at + 5);  // "" or "_<digits>"
  return rest.empty() || (rest.size() > 1 && rest[0] == '_' &&
                          std::all_of(rest.begin() + 1, rest.end(),
                                      [](unsigned char ch) { return std::isdigit(ch) != 0; }));
}

// FNV-1a, 64 bits: a fast fingerprint; files whose (size, hash) agree are compared byte by byte.
uint64_t fnv1a_hash(const std::vector<uint8_t>& bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ULL;
  return h;
}

// The sorted entry names of a folder (directory order differs between file systems).
std::vector<fs::directory_entry> sorted_entries(const fs::path& folder) {
  std::vector<fs::directory_entry> entries;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
    entries.push_back(*it);
  BUSI_CHECK(!error, folder.string(), ": cannot list folder (", error.message(), ")");
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.path().filename().string() < b.path().filename().string();
  });
  return entries;
}

// What checking one candidate file found: its header, fingerprint, or the problem.
struct FileCheck {
  ImageInfo info;
  uint64_t hash = 0;
  size_t bytes = 0;
  std::string error;  // empty when the file is a good image
};

FileCheck check_file(const std::string& path, const ScanOptions& options) {
  FileCheck check;
  try {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    check.info = read_image_info(bytes, path);
    if (options.verify_decode) decode_image(bytes, 1, path);
    if (options.find_duplicates) check.hash = fnv1a_hash(bytes);
    check.bytes = bytes.size();
  } catch (const std::exception& e) {
    check.error = e.what();
  }
  return check;
}

// Splits the samples with equal (size, hash) into groups of byte-identical files.
std::vector<std::vector<int64_t>> find_duplicate_groups(const std::vector<Sample>& samples,
                                                        const std::vector<FileCheck>& checks) {
  std::map<std::pair<size_t, uint64_t>, std::vector<int64_t>> by_fingerprint;
  for (int64_t i = 0; i < static_cast<int64_t>(samples.size()); ++i)
    by_fingerprint[{checks[i].bytes, checks[i].hash}].push_back(i);
  std::vector<std::vector<int64_t>> groups;
  for (const auto& [fingerprint, ids] : by_fingerprint) {
    if (ids.size() < 2) continue;
    // Equal fingerprints almost surely mean equal files; comparing the bytes makes it certain.
    std::vector<std::pair<std::vector<uint8_t>, std::vector<int64_t>>> distinct;
    for (int64_t id : ids) {
      std::vector<uint8_t> bytes = read_file_bytes(samples[id].path);
      auto same = std::find_if(distinct.begin(), distinct.end(),
                               [&](const auto& d) { return d.first == bytes; });
      if (same != distinct.end())
        same->second.push_back(id);
      else
        distinct.push_back({std::move(bytes), {id}});
    }
    for (auto& d : distinct)
      if (d.second.size() > 1) groups.push_back(std::move(d.second));
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

// Every class must keep at least one image: dropping an empty class would renumber the labels.
void check_every_class_has_images(const DatasetIndex& index) {
  const std::vector<int64_t> counts = index.class_counts();
  for (int64_t label = 0; label < index.num_classes(); ++label)
    BUSI_CHECK(counts[label] > 0, "class folder '",
               (fs::path(index.root) / index.classes[label]).string(), "' holds no images",
               index.skipped_bad > 0 ? " (after skipping bad files)" : "");
}

}  // namespace

DatasetIndex scan_folder(const std::string& root, const ScanOptions& options) {
  // fs::status with an error_code never throws: a path whose type cannot be read (no permission
  // on a parent folder, a loop of links, a name too long) has type `none` and `error` says why.
  const fs::path root_path(root);
  std::error_code error;
  const fs::file_type root_type = fs::status(root_path, error).type();
  BUSI_CHECK(root_type != fs::file_type::not_found, "data folder '", root, "' does not exist");
  BUSI_CHECK(root_type != fs::file_type::none, "data folder '", root, "': cannot read it (",
             error.message(), ")");
  BUSI_CHECK(root_type == fs::file_type::directory, "data folder '", root, "' is not a folder");

  DatasetIndex index;
  index.root = root;
  for (const auto& entry : sorted_entries(root_path)) {
    const std::string name = entry.path().filename().string();
    if (name[0] == '.') continue;
    const fs::file_type type = fs::status(entry.path(), error).type();
    // Not knowing whether an entry is a class folder could silently lose a class: an error.
    BUSI_CHECK(type != fs::file_type::none, entry.path().string(),
               ": cannot tell whether it is a class folder (", error.message(), ")");
    if (type == fs::file_type::directory) index.classes.push_back(name);
  }
  BUSI_CHECK(!index.classes.empty(), "data folder '", root,
             "' holds no class folders (expected one sub-folder per class, e.g. benign/ "
             "malignant/ normal/)");

  // Candidates in (class, file name) order: this order fixes the sample ids.
  for (int64_t label = 0; label < index.num_classes(); ++label) {
    for (const auto& entry : sorted_entries(root_path / index.classes[label])) {
      const fs::path& file = entry.path();
      const std::string name = file.filename().string();
      // An entry whose type cannot be read counts as a file: opening it then names the problem.
      const bool is_folder = fs::status(file, error).type() == fs::file_type::directory;
      if (name[0] == '.' || is_folder || !has_image_extension(file)) {
        ++index.skipped_other;
      } else if (is_mask_name(file)) {
        ++index.skipped_masks;
      } else {
        Sample sample;
        sample.path = file.string();
        sample.relative_path = index.classes[label] + "/" + name;
        sample.label = label;
        index.samples.push_back(std::move(sample));
      }
    }
  }

  // Read, fingerprint and (optionally) decode the files in parallel; each thread writes only
  // its own slot, so the result does not depend on which thread ran first.
  const int64_t n = index.size();
  std::vector<FileCheck> checks(n);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) checks[i] = check_file(index.samples[i].path, options);

  std::vector<Sample> good;
  std::vector<FileCheck> good_checks;
  for (int64_t i = 0; i < n; ++i) {
    if (!checks[i].error.empty()) {
      BUSI_CHECK(options.skip_bad, checks[i].error,
                 " (scan with skip-bad to leave such files out)");
      index.warnings.push_back("skipped " + checks[i].error);
      index.bad_files.push_back(index.samples[i].relative_path);
      ++index.skipped_bad;
      continue;
    }
    Sample& sample = index.samples[i];
    sample.height = checks[i].info.height;
    sample.width = checks[i].info.width;
    sample.channels = checks[i].info.channels;
    good.push_back(std::move(sample));
    good_checks.push_back(checks[i]);
  }
  index.samples = std::move(good);

  check_every_class_has_images(index);

  if (options.find_duplicates) {
    index.duplicate_groups = find_duplicate_groups(index.samples, good_checks);
    for (const std::string& line : label_conflict_warnings(index)) index.warnings.push_back(line);
  }
  return index;
}

std::vector<int64_t> label_conflicts(const DatasetIndex& index) {
  std::vector<int64_t> conflicts;
  for (size_t g = 0; g < index.duplicate_groups.size(); ++g) {
    const auto& group = index.duplicate_groups[g];
    const int64_t first_label = index.samples[group[0]].label;
    if (!std::all_of(group.begin(), group.end(),
                     [&](int64_t id) { return index.samples[id].label == first_label; }))
      conflicts.push_back(static_cast<int64_t>(g));
  }
  return conflicts;
}

std::vector<std::string> label_conflict_warnings(const DatasetIndex& index) {
  std::vector<std::string> lines;
  for (int64_t g : label_conflicts(index)) {
    std::string line =
        std::string(kLabelConflictWarning) + ": duplicates filed under different classes:";
    for (int64_t id : index.duplicate_groups[g])
      line += " '" + index.samples[id].relative_path + "'";
    lines.push_back(line);
  }
  return lines;
}

std::vector<int64_t> DatasetIndex::class_counts() const {
  std::vector<int64_t> counts(classes.size(), 0);
  for (const Sample& sample : samples) ++counts[sample.label];
  return counts;
}

std::vector<int64_t> DatasetIndex::class_counts(const std::vector<int64_t>& sample_ids) const {
  std::vector<int64_t> counts(classes.size(), 0);
  for (int64_t id : sample_ids) {
    BUSI_CHECK(id >= 0 && id < size(), "class_counts: sample id ", id, " out of range [0, ", size(),
               ")");
    ++counts[samples[id].label];
  }
  return counts;
}

std::string DatasetIndex::summary() const {
  std::ostringstream os;
  os << size() << " images in " << num_classes() << " classes (";
  const std::vector<int64_t> counts = class_counts();
  for (int64_t c = 0; c < num_classes(); ++c)
    os << (c ? ", " : "") << classes[c] << " " << counts[c];
  os << ") from '" << root << "'; sizes ";

  std::map<std::pair<int64_t, int64_t>, int64_t> sizes;  // (width, height) -> images
  for (const Sample& s : samples) ++sizes[{s.width, s.height}];
  if (sizes.size() <= 3) {
    bool first = true;
    for (const auto& [wh, count] : sizes) {
      os << (first ? "" : ", ") << wh.first << "x" << wh.second << " (" << count << ")";
      first = false;
    }
  } else {
    auto [min_w, max_w] = std::minmax_element(samples.begin(), samples.end(),
                                              [](auto& a, auto& b) { return a.width < b.width; });
    auto [min_h, max_h] = std::minmax_element(samples.begin(), samples.end(),
                                              [](auto& a, auto& b) { return a.height < b.height; });
    os << sizes.size() << " distinct (width " << min_w->width << "-" << max_w->width << ", height "
       << min_h->height << "-" << max_h->height << ")";
  }
  int64_t duplicated_images = 0;
  for (const auto& group : duplicate_groups)
    duplicated_images += static_cast<int64_t>(group.size());
  os << "; " << duplicate_groups.size() << (duplicate_groups.size() == 1 ? " group" : " groups")
     << " of duplicates (" << duplicated_images << " images); skipped " << skipped_masks
     << " masks, " << skipped_other << " other files, " << skipped_bad << " bad files";
  if (!warnings.empty())
    os << "; " << warnings.size() << (warnings.size() == 1 ? " warning" : " warnings");
  return os.str();
}

std::string DatasetIndex::warnings_text() const {
  std::string text;
  for (const std::string& warning : warnings) text += "warning: " + warning + "\n";
  return text;
}

void drop_bad_samples(DatasetIndex& index, const std::vector<BadSample>& bad) {
  std::vector<char> is_bad(index.samples.size(), 0);
  for (const BadSample& sample : bad) {
    BUSI_CHECK(sample.id >= 0 && sample.id < index.size(), "drop_bad_samples: sample id ",
               sample.id, " out of range [0, ", index.size(), ")");
    if (is_bad[sample.id]) continue;  // listed twice: dropped (and counted) once
    is_bad[sample.id] = 1;
    index.warnings.push_back("skipped " + sample.problem);
    index.bad_files.push_back(index.samples[sample.id].relative_path);
    ++index.skipped_bad;
  }

  // The kept samples in their old order; new_id maps an old id to its new one (-1: dropped).
  std::vector<int64_t> new_id(index.samples.size(), -1);
  std::vector<Sample> kept;
  for (size_t i = 0; i < index.samples.size(); ++i) {
    if (is_bad[i]) continue;
    new_id[i] = static_cast<int64_t>(kept.size());
    kept.push_back(std::move(index.samples[i]));
  }
  index.samples = std::move(kept);

  std::vector<std::vector<int64_t>> groups;
  for (const std::vector<int64_t>& group : index.duplicate_groups) {
    std::vector<int64_t> renumbered;
    for (int64_t id : group)
      if (new_id[id] >= 0) renumbered.push_back(new_id[id]);
    if (renumbered.size() >= 2) groups.push_back(std::move(renumbered));
  }
  index.duplicate_groups = std::move(groups);
  check_every_class_has_images(index);
}

std::vector<float> class_weights_inverse_frequency(const DatasetIndex& index,
                                                   const std::vector<int64_t>& sample_ids) {
  const std::vector<int64_t> counts = index.class_counts(sample_ids);
  const double total = static_cast<double>(sample_ids.size());
  std::vector<float> weights(counts.size(), 0.0f);
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0)
      weights[c] = static_cast<float>(total / (static_cast<double>(counts.size()) * counts[c]));
  return weights;
}

}  // namespace busi::data
