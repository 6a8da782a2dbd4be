// Scanning, decoding and splitting the data of a run (see prepare_data.h).
#include "tools/train/prepare_data.h"

#include <filesystem>
#include <iostream>

#include "kernels/common/error.h"

namespace busi::tools {

namespace {

// The first `limit` images of each class (samples are sorted by class, then file name), with
// the duplicate groups renumbered to the kept samples.
data::DatasetIndex limit_per_class(const data::DatasetIndex& full, int64_t limit) {
  data::DatasetIndex index = full;
  index.samples.clear();
  std::vector<int64_t> new_id(full.samples.size(), -1);
  std::vector<int64_t> taken(full.classes.size(), 0);
  for (size_t i = 0; i < full.samples.size(); ++i) {
    const data::Sample& sample = full.samples[i];
    if (taken[sample.label]++ >= limit) continue;
    new_id[i] = static_cast<int64_t>(index.samples.size());
    index.samples.push_back(sample);
  }
  index.duplicate_groups.clear();
  for (const std::vector<int64_t>& group : full.duplicate_groups) {
    std::vector<int64_t> kept;
    for (int64_t id : group)
      if (new_id[id] >= 0) kept.push_back(new_id[id]);
    if (kept.size() >= 2) index.duplicate_groups.push_back(kept);
  }
  // The warnings about duplicates are about the kept images only; the others (skipped files)
  // still hold.
  std::erase_if(index.warnings, [](const std::string& line) {
    return line.rfind(data::kCrossClassDuplicateWarning, 0) == 0;
  });
  for (const std::string& line : data::cross_class_duplicate_warnings(index))
    index.warnings.push_back(line);
  return index;
}

}  // namespace

PreparedData prepare_data(const TrainingSettings& s, const std::string& run_dir, int64_t fold,
                          const data::CacheOptions& cache_options) {
  namespace fs = std::filesystem;
  BUSI_CHECK(fs::is_directory(s.data), "--data '", s.data,
             "': folder missing (expected one sub-folder of images per class, e.g. "
             "../shared/busi/benign, malignant, normal)");
  PreparedData d;
  data::ScanOptions scan;
  scan.skip_bad = s.skip_bad;
  scan.verify_decode = false;  // the cache below decodes every image, once
  d.index = data::scan_folder(s.data, scan);
  if (s.limit_per_class > 0) d.index = limit_per_class(d.index, s.limit_per_class);
  // Before the split: with --skip-bad the files that fail to decode leave the index here.
  d.cache = std::make_unique<data::ImageCache>(
      data::ImageCache::build(d.index, cache_options, s.skip_bad));

  if (!s.split_csv.empty()) {
    d.split = data::read_split_csv(s.split_csv, d.index);
  } else if (s.folds > 0) {
    data::KFoldOptions options;
    options.folds = s.folds;
    options.fold = fold - 1;
    options.val_fraction = s.val_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    d.split = data::make_kfold_split(d.index, options);
  } else {
    data::SplitOptions options;
    options.val_fraction = s.val_frac;
    options.test_fraction = s.test_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    d.split = data::make_split(d.index, options);
  }
  d.train_ids = d.split.indices(data::Subset::Train);
  d.val_ids = d.split.indices(data::Subset::Val);
  d.test_ids = d.split.indices(data::Subset::Test);
  for (const auto& [ids, name] :
       {std::pair{&d.train_ids, "training"}, std::pair{&d.val_ids, "validation"},
        std::pair{&d.test_ids, "test"}})
    BUSI_CHECK(!ids->empty(), "the ", name, " subset is empty (", d.index.size(),
               " images; use more images or other --val-frac/--test-frac)");
  // Written under a temporary name, then renamed: a run killed here leaves no torn split.csv
  // for --resume to reuse.
  const std::string split_csv = run_dir + "/split.csv";
  data::write_split_csv(split_csv + ".writing", d.index, d.split);
  std::filesystem::rename(split_csv + ".writing", split_csv);
  std::cout << "data: " << d.index.summary() << "\n"
            << "split: " << data::split_summary(d.index, d.split) << "\n";
  std::cerr << d.index.warnings_text();
  return d;
}

}  // namespace busi::tools
