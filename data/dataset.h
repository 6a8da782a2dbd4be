// DatasetIndex: the images of a folder-per-class dataset (BUSI: benign/, malignant/, normal/),
// found by scan_folder, with their labels, the groups of duplicates and what was skipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace busi::data {

struct Sample {
  std::string path;           // the file as opened: root + "/" + relative_path
  std::string relative_path;  // "benign/benign (12).png": '/'-separated, relative to the root
  int64_t label = 0;          // index into DatasetIndex::classes
  int64_t height = 0, width = 0, channels = 0;  // as stored in the file
};

struct DatasetIndex {
  std::string root;
  std::vector<std::string> classes;  // the sub-folder names, sorted: label i is classes[i]
  std::vector<Sample> samples;       // sorted by (label, file name): sample id = position here
  // Groups (2 or more sample ids, ascending; sorted by first id) of duplicates: byte-identical
  // files after scan_folder, near-duplicates too once group_duplicates (data/grouping.h) has run.
  // One mechanism for both: splits keep each group in one subset, so that a copy of a test image
  // never sits in the training set, and a group with two labels is a label conflict.
  std::vector<std::vector<int64_t>> duplicate_groups;
  int64_t skipped_masks = 0;  // "<name>_mask.png", "<name>_mask_1.png": segmentation masks
  int64_t skipped_other = 0;  // files that are not PNG/JPEG by name, hidden files, sub-folders
  int64_t skipped_bad = 0;    // unreadable, empty, corrupt or truncated (only with skip_bad)
  std::vector<std::string> bad_files;  // relative paths of the skipped bad files, in order found
  // One line per skipped bad file (naming it and the problem) and per label conflict (a group of
  // duplicates filed under different classes). Tools print them with warnings_text().
  std::vector<std::string> warnings;

  int64_t size() const { return static_cast<int64_t>(samples.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
  // Images per class over all samples, or over the given sample ids.
  std::vector<int64_t> class_counts() const;
  std::vector<int64_t> class_counts(const std::vector<int64_t>& sample_ids) const;
  // One line: images per class, sizes seen, duplicates, skipped files, number of warnings.
  std::string summary() const;
  // The warnings ready to print, one "warning: <text>" line each (every line ends in '\n');
  // empty when there is none. E.g. std::cerr << index.warnings_text();
  std::string warnings_text() const;
};

// Label conflicts: the duplicate groups whose images carry different labels (one scan filed
// under two classes), as indices into index.duplicate_groups, ascending.
std::vector<int64_t> label_conflicts(const DatasetIndex& index);
// One warning line per label conflict of `index`: "label conflict: duplicates filed under
// different classes: 'benign/a.png' 'malignant/b.png'". scan_folder adds them for the
// byte-identical groups; group_duplicates and a tool that keeps only part of an index replace
// them (the lines starting with kLabelConflictWarning) for the groups they have.
inline constexpr const char* kLabelConflictWarning = "label conflict";
std::vector<std::string> label_conflict_warnings(const DatasetIndex& index);

struct ScanOptions {
  // Unreadable, zero-byte, corrupt or truncated files: false = throw busi::Error naming the
  // file and the problem; true = leave the file out, count it and add a warning.
  bool skip_bad = false;
  // Decode every image once during the scan, so that a truncated file is found here (before a
  // split or a training run), not halfway through an epoch. Off: only headers are checked, and
  // a truncated file with a valid header passes. Turn it off when an ImageCache is built next
  // with ImageCache::build, which decodes every image anyway (and, with skip_bad, drops the
  // files that fail from the index): each image is then decoded once, not twice.
  bool verify_decode = true;
  // Hash every file to find byte-identical duplicates (reads each file once).
  bool find_duplicates = true;
  int threads = 0;  // threads that read, hash and verify the files; 0 = all cores
};

// Lists `root`'s class sub-folders and their PNG/JPEG images. Throws busi::Error when the folder
// is missing, holds no class folders, or a class folder holds no images.
DatasetIndex scan_folder(const std::string& root, const ScanOptions& options = {});

// A sample found bad after the scan (by the image cache's decode): its id and the problem, a
// message that names the file.
struct BadSample {
  int64_t id = 0;
  std::string problem;
};

// Leaves the given samples out of `index` as skip_bad does during the scan: each is counted in
// skipped_bad, listed in bad_files and gets a "skipped <problem>" warning. The other samples keep
// their order, so the ids after a dropped one shift down; duplicate groups are renumbered (a
// group left with one image is no longer a group). Throws busi::Error if a class is left without
// images. Make splits only after this: a split is indexed by sample id.
void drop_bad_samples(DatasetIndex& index, const std::vector<BadSample>& bad);

// Weight of class c for the loss: N / (K n_c) over the given samples (N samples, K classes, n_c
// of class c), so that every class present contributes the same total weight, N / K. A class
// absent from the samples gets weight 0; the mean weight per sample is then K' / K (K' classes
// present), and 1 only when every class is present.
std::vector<float> class_weights_inverse_frequency(const DatasetIndex& index,
                                                   const std::vector<int64_t>& sample_ids);

}  // namespace busi::data
