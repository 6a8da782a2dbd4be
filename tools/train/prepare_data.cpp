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
    return line.rfind(data::kLabelConflictWarning, 0) == 0;
  });
  for (const std::string& line : data::label_conflict_warnings(index))
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
  data::GroupingOptions grouping;
  grouping.near_duplicates = s.group_duplicates == "near";
  grouping.near.fine_threshold = s.near_threshold;
  // Before the split: with --skip-bad the files that fail to decode leave the index here. Each
  // file is decoded once: the cache makes the near-duplicate signatures from the same pixels.
  data::CacheOptions decode = cache_options;
  decode.signatures = grouping.near_duplicates;
  d.cache =
      std::make_unique<data::ImageCache>(data::ImageCache::build(d.index, decode, s.skip_bad));
  // The groups, from the images (also for a read split: an old CSV has none, and a new one's are
  // a record); after the bad files left the index, before any split. Their time is the
  // comparisons' alone: the decoding belongs to the cache.
  d.grouping = data::group_duplicates(d.index, d.cache->take_signatures(), grouping);
  const bool keep_conflicts = s.label_conflicts == "keep";

  if (!s.split_csv.empty()) {
    d.split = data::read_split_csv(s.split_csv, d.index);
  } else if (s.folds > 0) {
    data::KFoldOptions options;
    options.folds = s.folds;
    options.fold = fold - 1;
    options.val_fraction = s.val_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    options.keep_conflicts = keep_conflicts;
    d.split = data::make_kfold_split(d.index, options);
  } else {
    data::SplitOptions options;
    options.val_fraction = s.val_frac;
    options.test_fraction = s.test_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    options.keep_conflicts = keep_conflicts;
    d.split = data::make_split(d.index, options);
  }
  const std::vector<int64_t> leaks = data::leaking_groups(d.index, d.split);
  d.leaking_groups = static_cast<int64_t>(leaks.size());
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
            << "groups: " << d.grouping.summary() << "\n"
            << "split: " << data::split_summary(d.index, d.split) << "\n";
  std::cerr << d.index.warnings_text();
  if (d.grouping.conflicts > 0)
    std::cerr << "warning: the " << d.grouping.conflicts << " label conflicts above ("
              << d.grouping.conflict_images << " images) "
              << (s.split_csv.empty()
                      ? (keep_conflicts ? "are kept: each image keeps the label of its folder"
                                        : "are left out of training and evaluation "
                                          "(--label-conflicts keep keeps them)")
                      : "are placed as " + s.split_csv + " says")
              << "\n";
  for (int64_t g : leaks) {
    std::cerr << "warning: " << s.split_csv << " puts duplicates in different subsets:";
    for (int64_t id : d.index.duplicate_groups[g])
      std::cerr << " '" << d.index.samples[id].relative_path << "' ("
                << data::subset_name(d.split.subset_of[id]) << ")";
    std::cerr << "\n";
  }
  return d;
}

Json grouping_json(const TrainingSettings& s, const PreparedData& d) {
  Json j = Json::object();
  const data::GroupingReport& g = d.grouping;
  j["method"] = g.method;
  if (g.method == "near-duplicates") {
    j["fine_threshold"] = g.near.fine_threshold;
    j["plain_threshold"] = g.near.plain_threshold;
    j["plain_filters"] = "area, box, bilinear, lanczos3, bilinear-point";
    j["combined_plain"] = g.near.combined_plain;
    j["combined_fine"] = g.near.combined_fine;
    j["exhaustive_plain_limit"] = g.near.exhaustive_plain_limit;
    j["gate"] = g.near.gate;
  }
  j["images"] = g.images;
  j["groups"] = g.groups;
  j["grouped_images"] = g.grouped_images;
  j["label_conflicts"] = g.conflicts;
  j["conflict_images"] = g.conflict_images;
  j["label_conflicts_policy"] = s.split_csv.empty() ? s.label_conflicts : "from --split-csv";
  j["excluded_images"] = static_cast<int64_t>(d.split.indices(data::Subset::Excluded).size());
  j["leaking_groups"] = d.leaking_groups;
  j["seconds"] = g.seconds;
  return j;
}

}  // namespace busi::tools
