// audit.html: one self-contained page showing what grouping found in a data folder: the label
// conflicts first, then every group of near-duplicates, thumbnails side by side; the histogram of
// nearest-neighbour similarity with the thresholds marked; the closest pairs left apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/grouping.h"
#include "tools/audit/leak_check.h"

namespace busi::tools {

struct AuditPage {
  const data::DatasetIndex* index = nullptr;  // grouped (group_duplicates has run)
  const data::GroupingReport* grouping = nullptr;
  std::vector<std::string> thumbnails;  // by sample id: a data: URI, or empty (not shown)
  std::optional<LeakCheck> leaks;       // with --split-csv
  std::string split_csv;
  int closest_apart = 24;  // how many of the most similar pairs left apart to show
};

// The sample ids the page shows (groups, and the closest pairs left apart): the thumbnails
// to make.
std::vector<int64_t> audit_page_images(const AuditPage& page);

// The compared pairs that are not near-duplicates, most similar (fine) first, at most `count`.
std::vector<data::ComparedPair> closest_pairs_apart(const data::NearDuplicates& found, int count);

// Per image, its highest similarity (fine and plain) over the compared pairs; -1: none compared.
void nearest_neighbours(const data::NearDuplicates& found, int64_t images, std::vector<float>& fine,
                        std::vector<float>& plain);

std::string render_audit_page(const AuditPage& page);

}  // namespace busi::tools
