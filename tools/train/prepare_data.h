// The data of one run (or one fold): the dataset scanned, every image decoded once, and the split
// made (or read back) and written to the run folder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/split.h"
#include "tools/train/settings.h"

namespace busi::tools {

// The dataset, its decoded images and its split for one run (or one fold).
struct PreparedData {
  data::DatasetIndex index;
  std::unique_ptr<data::ImageCache> cache;  // every image of index, decoded once
  data::Split split;
  std::vector<int64_t> train_ids, val_ids, test_ids;
};
// Scans --data (only the first --limit-per-class images of each class when set), decodes every
// image into the cache (with --skip-bad, a file that cannot be decoded is dropped with a warning
// naming it; without, it is an error naming it), then makes or reads the split (--split-csv,
// --folds with the 1-based `fold`, or --val-frac/--test-frac), writes it to <run_dir>/split.csv
// and prints a summary and the dataset's warnings. Clear errors for a missing folder or an empty
// subset.
PreparedData prepare_data(const TrainingSettings& settings, const std::string& run_dir,
                          int64_t fold, const data::CacheOptions& cache_options);

}  // namespace busi::tools
