// The data of one run (or one fold): the dataset scanned, every image decoded once, and the split
// made (or read back) and written to the run folder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/grouping.h"
#include "data/image_cache.h"
#include "data/split.h"
#include "tools/formats/json_value.h"
#include "tools/train/settings.h"

namespace busi::tools {

// The dataset, its decoded images and its split for one run (or one fold).
struct PreparedData {
  data::DatasetIndex index;
  std::unique_ptr<data::ImageCache> cache;  // every image of index, decoded once
  data::Split split;
  std::vector<int64_t> train_ids, val_ids, test_ids;
  data::GroupingReport grouping;  // how the images were grouped (--group-duplicates)
  int64_t leaking_groups = 0;     // groups straddling subsets (only a --split-csv can have any)
};
// Scans --data (only the first --limit-per-class images of each class when set), decodes every
// image into the cache (with --skip-bad, a file that cannot be decoded is dropped with a warning
// naming it; without, it is an error naming it), groups duplicates (--group-duplicates: the
// groups are always computed from the images, also for --split-csv), then makes or reads the
// split (--split-csv, --folds with the 1-based `fold`, or --val-frac/--test-frac; label conflicts
// excluded or kept by --label-conflicts), writes it to <run_dir>/split.csv and prints a summary,
// the grouping and the dataset's warnings. A read split whose groups straddle subsets gets a
// warning naming them. Clear errors for a missing folder or an empty subset.
PreparedData prepare_data(const TrainingSettings& settings, const std::string& run_dir,
                          int64_t fold, const data::CacheOptions& cache_options);

// config.json's "grouping": method, thresholds, groups, conflicts and what happened to them,
// excluded images, leaking groups, seconds.
Json grouping_json(const TrainingSettings& settings, const PreparedData& data);

}  // namespace busi::tools
