// Split: which subset (train / val / test, or excluded) each sample belongs to. Stratified
// fractions or stratified k-fold over duplicate groups, deterministic from a seed; written to and
// read back from a CSV file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace busi::data {

// Excluded: in no subset (a label conflict, by default), neither trained nor evaluated on.
enum class Subset : uint8_t { Train = 0, Val = 1, Test = 2, Excluded = 3 };
const char* subset_name(Subset subset);  // "train", "val", "test", "excluded"

struct Split {
  std::vector<Subset> subset_of;  // one entry per sample of the DatasetIndex, by sample id
  std::string description;        // how it was made, e.g. "stratified 70/15/15, seed 42"
  // The group column of a split CSV, by sample id (empty when the file had none, or the split
  // was made here: group_ids(index) numbers the groups of a made split).
  std::vector<int64_t> group_of;

  // The sample ids of one subset, ascending.
  std::vector<int64_t> indices(Subset subset) const;
};

struct SplitOptions {
  double val_fraction = 0.15;
  double test_fraction = 0.15;  // the training subset gets the rest
  uint64_t seed = 0;
  // Label conflicts (duplicate groups with two labels): false = Subset::Excluded, neither trained
  // nor evaluated on; true = split like any group, each image keeping its own folder's label.
  bool keep_conflicts = false;
};

// Stratified split: class c with n_c images (label conflicts left out unless kept) gets
// round(n_c val_fraction) validation and round(n_c test_fraction) test images, the rest for
// training, so every subset's count is within one image of its exact share, per class (a group
// larger than a subset's room can overfill it by its own size). Duplicate groups go whole into one
// subset, drawn with probability proportional to its room for them, so each subset holds grouped
// images at its share; then each class's other images, in an order shuffled from the seed, fill
// the remaining places. Same seed + same file list + same groups = same split.
Split make_split(const DatasetIndex& index, const SplitOptions& options = {});

struct KFoldOptions {
  int64_t folds = 5;
  int64_t fold = 0;            // which fold is the test subset, in [0, folds)
  double val_fraction = 0.15;  // of the other folds' images, stratified, for validation (0: none)
  uint64_t seed = 0;
  bool keep_conflicts = false;  // as in SplitOptions
};

// Stratified k-fold: each class is dealt over the folds (sizes differ by at most one; the spare
// images of successive classes go to successive folds so the fold totals stay even), duplicate
// groups kept in one fold, and in one of train / val within the other folds. Fold `fold` is the
// test subset; the folds depend only on the seed, so the test subsets of fold = 0 .. folds-1
// partition the data (the images not excluded).
Split make_kfold_split(const DatasetIndex& index, const KFoldOptions& options);

// "train 463 (benign 259, malignant 125, normal 79); val 99 (...); test 100 (...)", then
// "; excluded 5 (...)" when images are excluded.
std::string split_summary(const DatasetIndex& index, const Split& split);

// The duplicate groups of `index` (indices into duplicate_groups) whose images, excluded ones
// aside, lie in more than one subset of `split`: what a split made elsewhere (an old CSV) leaks.
std::vector<int64_t> leaking_groups(const DatasetIndex& index, const Split& split);

// CSV with the header "path,class,subset,group" and one row per sample: path relative to the
// data folder ('/'-separated), class name, subset name, group number (group_ids(index)). Fields
// with commas or quotes are quoted.
void write_split_csv(const std::string& csv_path, const DatasetIndex& index, const Split& split);
// Reads a CSV written by write_split_csv back for this index; the files written before groups
// existed ("path,class,subset") load too (Split::group_of is then empty). Throws busi::Error
// (naming the file and line) for a row whose image is not in the index, whose class differs, a
// repeated row, an unknown subset, a group that is not a number, or when images of the index are
// missing from the file.
Split read_split_csv(const std::string& csv_path, const DatasetIndex& index);

}  // namespace busi::data
