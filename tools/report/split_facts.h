// What the report says about a run's split beyond its counts: how the images were grouped
// (config.json's "grouping": method, thresholds, groups, label conflicts and their fate) and
// whether split.csv keeps every group in one subset.
#pragma once

#include <string>

#include "tools/report/run_reader.h"

namespace busi::tools {

// One or two plain-text sentences, e.g. "Grouped by near-duplicates (fine >= 0.40 or plain >=
// 0.93): 115 groups of 2 or more images (263 images); 4 label conflicts (11 images), excluded
// from training and evaluation. split.csv: 11 images excluded; no group in two subsets." A run
// from before grouping says so.
std::string grouping_sentence(const RunFolder& run);

}  // namespace busi::tools
