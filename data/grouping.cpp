// Signatures of a data set, union-find, duplicate groups and their report (see grouping.h).
#include "data/grouping.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "data/image.h"
#include "kernels/common/error.h"

namespace busi::data {

namespace {

// Union-find with path halving; the root of a set is its smallest node, so that the groups
// do not depend on the order of the edges.
struct DisjointSets {
  std::vector<int64_t> parent;
  explicit DisjointSets(int64_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int64_t find(int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int64_t a, int64_t b) {
    a = find(a), b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

std::vector<ImageSignature> compute_signatures(const DatasetIndex& index, int threads) {
  const int64_t n = index.size();
  std::vector<ImageSignature> signatures(n);
  std::vector<std::string> errors(n);
  const int t = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) num_threads(t)
  for (int64_t i = 0; i < n; ++i) {
    try {
      signatures[i] = make_signature(decode_image_file(index.samples[i].path, 1));
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  for (const std::string& error : errors) BUSI_CHECK(error.empty(), error);
  return signatures;
}

std::vector<std::vector<int64_t>> connected_groups(
    int64_t n, const std::vector<std::pair<int64_t, int64_t>>& edges) {
  DisjointSets sets(n);
  for (const auto& [a, b] : edges) sets.join(a, b);
  std::vector<std::vector<int64_t>> members(n);
  for (int64_t i = 0; i < n; ++i) members[sets.find(i)].push_back(i);
  std::vector<std::vector<int64_t>> groups;
  for (auto& group : members)  // roots ascending: groups come sorted by their first node
    if (group.size() >= 2) groups.push_back(std::move(group));
  return groups;
}

GroupingReport group_duplicates(DatasetIndex& index, const GroupingOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ImageSignature> signatures = options.near_duplicates
                                                     ? compute_signatures(index, options.threads)
                                                     : std::vector<ImageSignature>{};
  GroupingReport report = group_duplicates(index, signatures, options);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

GroupingReport group_duplicates(DatasetIndex& index, const std::vector<ImageSignature>& signatures,
                                const GroupingOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  GroupingReport report;
  report.near = options.near;
  report.images = index.size();
  report.method = options.near_duplicates ? "near-duplicates" : "byte-identical";
  if (options.near_duplicates) {
    BUSI_CHECK(static_cast<int64_t>(signatures.size()) == index.size(),
               "group_duplicates: ", signatures.size(), " signatures for ", index.size(),
               " images");
    NearDuplicateOptions near = options.near;
    near.threads = options.threads;
    report.found = find_near_duplicates(signatures, near);
    std::vector<std::pair<int64_t, int64_t>> edges;
    for (const ComparedPair& pair : report.found.compared)
      if (pair.near_duplicate) edges.push_back({pair.a, pair.b});
    for (const auto& group : index.duplicate_groups)
      for (size_t k = 1; k < group.size(); ++k) edges.push_back({group[0], group[k]});
    index.duplicate_groups = connected_groups(index.size(), edges);
  }
  std::erase_if(index.warnings,
                [](const std::string& line) { return line.rfind(kLabelConflictWarning, 0) == 0; });
  for (const std::string& line : label_conflict_warnings(index)) index.warnings.push_back(line);

  report.groups = static_cast<int64_t>(index.duplicate_groups.size());
  for (const auto& group : index.duplicate_groups)
    report.grouped_images += static_cast<int64_t>(group.size());
  for (int64_t g : label_conflicts(index)) {
    ++report.conflicts;
    report.conflict_images += static_cast<int64_t>(index.duplicate_groups[g].size());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string GroupingReport::summary() const {
  char text[320];
  if (method == "near-duplicates")
    std::snprintf(text, sizeof text,
                  "near-duplicates (fine >= %.2f, or plain >= %.2f under any of 5 filters, or "
                  "plain >= %.2f with fine >= %.2f)",
                  near.fine_threshold, near.plain_threshold, near.combined_plain,
                  near.combined_fine);
  else
    std::snprintf(text, sizeof text, "byte-identical files only");
  char rest[320];
  std::snprintf(rest, sizeof rest,
                ": %lld images, %lld groups of 2+ (%lld images), %lld label conflicts (%lld "
                "images), %.1f s",
                static_cast<long long>(images), static_cast<long long>(groups),
                static_cast<long long>(grouped_images), static_cast<long long>(conflicts),
                static_cast<long long>(conflict_images), seconds);
  return std::string(text) + rest;
}

std::vector<int64_t> group_ids(const DatasetIndex& index) {
  std::vector<int64_t> first(index.size());  // the smallest id of each sample's group
  std::iota(first.begin(), first.end(), 0);
  for (const auto& group : index.duplicate_groups)
    for (int64_t id : group) first[id] = *std::min_element(group.begin(), group.end());
  std::vector<int64_t> id_of_first(index.size(), -1), ids(index.size());
  int64_t next = 0;
  for (int64_t i = 0; i < index.size(); ++i) {
    if (id_of_first[first[i]] < 0) id_of_first[first[i]] = next++;
    ids[i] = id_of_first[first[i]];
  }
  return ids;
}

}  // namespace busi::data
