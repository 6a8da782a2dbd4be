// Split: which subset (train / val / test) each sample belongs to. Stratified fractions or
// stratified k-fold, deterministic from a seed; written to and read back from a CSV file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace busi::data {

enum class Subset : uint8_t { Train = 0, Val = 1, Test = 2 };
const char* subset_name(Subset subset);  // "train", "val", "test"

struct Split {
  std::vector<Subset> subset_of;  // one entry per sample of the DatasetIndex, by sample id
  std::string description;        // how it was made, e.g. "stratified 70/15/15, seed 42"

  // The sample ids of one subset, ascending.
  std::vector<int64_t> indices(Subset subset) const;
};

struct SplitOptions {
  double val_fraction = 0.15;
  double test_fraction = 0.15;  // the training subset gets the rest
  uint64_t seed = 0;
};

// Stratified split: class c with n_c images gets round(n_c val_fraction) validation and
// round(n_c test_fraction) test images, the rest for training, so every subset's count is within
// one image of its exact share, per class. Duplicate groups go whole into one subset (the one
// with the most room left for their classes); then each class's other images, in an order
// shuffled from the seed, fill the remaining places. Same seed + same file list = same split.
Split make_split(const DatasetIndex& index, const SplitOptions& options = {});

struct KFoldOptions {
  int64_t folds = 5;
  int64_t fold = 0;            // which fold is the test subset, in [0, folds)
  double val_fraction = 0.15;  // of the other folds' images, stratified, for validation (0: none)
  uint64_t seed = 0;
};

// Stratified k-fold: each class is dealt over the folds (sizes differ by at most one; the spare
// images of successive classes go to successive folds so the fold totals stay even), duplicate
// groups kept in one fold. Fold `fold` is the test subset; the folds depend only on the seed, so
// the test subsets of fold = 0 .. folds-1 partition the data.
Split make_kfold_split(const DatasetIndex& index, const KFoldOptions& options);

// "train 463 (benign 259, malignant 125, normal 79); val 99 (...); test 100 (...)"
std::string split_summary(const DatasetIndex& index, const Split& split);

// CSV with the header "path,class,subset" and one row per sample: path relative to the data
// folder ('/'-separated), class name, subset name. Fields with commas or quotes are quoted.
void write_split_csv(const std::string& csv_path, const DatasetIndex& index, const Split& split);
// Reads a CSV written by write_split_csv back for this index. Throws busi::Error (naming the
// file and line) for a row whose image is not in the index, whose class differs, a repeated
// row, an unknown subset, or when images of the index are missing from the file.
Split read_split_csv(const std::string& csv_path, const DatasetIndex& index);

}  // namespace busi::data
