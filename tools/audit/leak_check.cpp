// Brute-force leak check of a split (see leak_check.h).
#include "tools/audit/leak_check.h"

#include <omp.h>

#include <cstdio>

#include "data/aligned_similarity.h"

namespace busi::tools {

std::string LeakCheck::summary() const {
  char text[400];
  std::snprintf(text, sizeof text,
                "%lld validation and test images; with a training image in their group: %lld; "
                "with a near-duplicate in training (every pair compared): %lld; with a plain "
                "thumbnail correlation at the threshold or more: %lld; with fine or plain at "
                "their thresholds if the key gate is left out: %lld",
                static_cast<long long>(evaluated), static_cast<long long>(in_group),
                static_cast<long long>(by_measure), static_cast<long long>(by_plain),
                static_cast<long long>(ungated));
  return text;
}

LeakCheck check_split_leaks(const data::DatasetIndex& index,
                            const std::vector<data::ImageSignature>& signatures,
                            const data::Split& split, const data::NearDuplicateOptions& options) {
  using data::Subset;
  const std::vector<int64_t> train = split.indices(Subset::Train);
  std::vector<int64_t> evaluated = split.indices(Subset::Val);
  for (int64_t id : split.indices(Subset::Test)) evaluated.push_back(id);
  LeakCheck check;
  check.evaluated = static_cast<int64_t>(evaluated.size());

  std::vector<int64_t> group_of(index.size(), -1);
  for (size_t g = 0; g < index.duplicate_groups.size(); ++g)
    for (int64_t id : index.duplicate_groups[g]) group_of[id] = static_cast<int64_t>(g);
  std::vector<char> group_in_train(index.duplicate_groups.size(), 0);
  for (int64_t id : train)
    if (group_of[id] >= 0) group_in_train[group_of[id]] = 1;

  // Both sides of every training image, built once (BUSI: 462 x 175 KB).
  std::vector<data::QueryPyramid> queries(train.size());
  std::vector<data::TargetPyramid> targets(train.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t t = 0; t < static_cast<int64_t>(train.size()); ++t) {
    queries[t] = data::make_query_pyramid(signatures[train[t]]);
    targets[t] = data::make_target_pyramid(signatures[train[t]]);
  }

  // Per evaluated image: its best training partner by each measure.
  const int64_t n = static_cast<int64_t>(evaluated.size());
  std::vector<float> best_plain(n, -2.0f), best_fine(n, -2.0f);
  std::vector<int64_t> partner(n, -1);
  std::vector<char> measured(n, 0), without_gate(n, 0);
#pragma omp parallel for schedule(dynamic, 2)
  for (int64_t e = 0; e < n; ++e) {
    const data::ImageSignature& s = signatures[evaluated[e]];
    const data::QueryPyramid query = data::make_query_pyramid(s);
    const data::TargetPyramid target = data::make_target_pyramid(s);
    for (size_t t = 0; t < train.size(); ++t) {
      const data::ImageSignature& other = signatures[train[t]];
      const float plain = data::plain_correlation_any_filter(s, other);
      const float fine = std::max(data::directional_similarity(query, targets[t]),
                                  data::directional_similarity(queries[t], target));
      best_plain[e] = std::max(best_plain[e], plain);
      if (!data::is_near_duplicate(plain, fine, options)) continue;
      without_gate[e] = 1;
      if (data::key_correlation(s, other) >= options.gate && !measured[e])
        measured[e] = 1, partner[e] = train[t], best_fine[e] = fine;
    }
  }
  for (int64_t e = 0; e < n; ++e) {
    const int64_t id = evaluated[e];
    if (group_of[id] >= 0 && group_in_train[group_of[id]]) ++check.in_group;
    if (best_plain[e] >= options.plain_threshold) ++check.by_plain;
    check.ungated += without_gate[e];
    if (measured[e]) {
      ++check.by_measure;
      if (check.examples.size() < 10) {
        char text[64];
        std::snprintf(text, sizeof text, " (fine %.2f)", best_fine[e]);
        check.examples.push_back(std::string(data::subset_name(split.subset_of[id])) + " '" +
                                 index.samples[id].relative_path + "' ~ train '" +
                                 index.samples[partner[e]].relative_path + "'" + text);
      }
    }
  }
  return check;
}

}  // namespace busi::tools
