// Groups of duplicates, the unit of every split: the connected components of the near-duplicate
// pairs (near_duplicates.h) and of the byte-identical files the scan found. A group whose images
// carry different labels is a label conflict (dataset.h: label_conflicts).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/image_signature.h"
#include "data/near_duplicates.h"

namespace busi::data {

struct GroupingOptions {
  // true: near-duplicates and byte-identical files; false: byte-identical files only (how splits
  // were made before near-duplicate detection; reproduces those splits).
  bool near_duplicates = true;
  NearDuplicateOptions near;
  int threads = 0;  // decoding and comparing; 0: all cores
};

// What grouping found, for logs, config.json and the audit.
struct GroupingReport {
  std::string method;  // "near-duplicates" or "byte-identical"
  NearDuplicateOptions near;
  int64_t images = 0;
  int64_t groups = 0;          // groups of 2 or more images
  int64_t grouped_images = 0;  // images in those groups
  int64_t conflicts = 0;       // groups whose images carry different labels
  int64_t conflict_images = 0;
  double seconds = 0.0;  // decoding, signatures and comparisons (given signatures: comparisons)
  NearDuplicates found;  // the compared pairs (empty for byte-identical)
  // "near-duplicates (fine >= 0.40 or plain >= 0.93): 662 images, 97 groups of 2+ (270 images),
  // 2 label conflicts (5 images), 0.8 s"
  std::string summary() const;
};

// Every image of `index` decoded (one grey channel) and made into a signature, in parallel.
std::vector<ImageSignature> compute_signatures(const DatasetIndex& index, int threads = 0);

// The connected components (union-find) of the graph on n nodes with these edges that have 2 or
// more nodes: each ascending, the list sorted by first node.
std::vector<std::vector<int64_t>> connected_groups(
    int64_t n, const std::vector<std::pair<int64_t, int64_t>>& edges);

// Groups `index`'s images: with near_duplicates, decodes every image, finds the near-duplicate
// pairs and sets index.duplicate_groups to the components of those pairs joined with the
// byte-identical groups already there; without, keeps the byte-identical groups. Either way the
// label-conflict warnings of index.warnings are made anew for the groups it now has.
GroupingReport group_duplicates(DatasetIndex& index, const GroupingOptions& options = {});
// The same with the signatures computed already (compute_signatures(index)), e.g. by an audit
// that uses them again; ignored without near_duplicates.
GroupingReport group_duplicates(DatasetIndex& index, const std::vector<ImageSignature>& signatures,
                                const GroupingOptions& options);

// The group of every sample, by sample id: groups are numbered 0, 1, ... in the order of their
// first (smallest) sample id, and an image in no duplicate group is a group of its own.
std::vector<int64_t> group_ids(const DatasetIndex& index);

}  // namespace busi::data
