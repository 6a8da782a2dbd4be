// LSH candidates, the key gate, the plain and fine checks (see near_duplicates.h).
#include "data/near_duplicates.h"

#include <omp.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "data/aligned_similarity.h"

namespace busi::data {

int64_t NearDuplicates::near_duplicate_pairs() const {
  return std::count_if(compared.begin(), compared.end(),
                       [](const ComparedPair& p) { return p.near_duplicate; });
}

bool is_near_duplicate(float plain, float fine, const NearDuplicateOptions& options) {
  return plain >= options.plain_threshold || fine >= options.fine_threshold ||
         (plain >= options.combined_plain && fine >= options.combined_fine);
}

NearDuplicates find_near_duplicates(const std::vector<ImageSignature>& signatures,
                                    const NearDuplicateOptions& options) {
  const int64_t n = static_cast<int64_t>(signatures.size());
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  NearDuplicates result;
  result.nearest_fine.assign(n, -1.0f);
  LshOptions lsh = options.lsh;
  lsh.threads = threads;
  // The gate, inside LSH's buckets: the 16 px keys' correlation, 256 multiply-adds a pair.
  const auto passes = [&](int64_t a, int64_t b) {
    return key_correlation(signatures[a], signatures[b]) >= options.gate;
  };
  for (const auto& [a, b] : lsh_candidate_pairs(signatures, lsh, passes, &result.candidates)) {
    ComparedPair pair;
    pair.a = a;
    pair.b = b;
    result.compared.push_back(pair);
  }
  // Every pair by the plain measure, when there are few enough images: what it finds is then a
  // near-duplicate whatever LSH and the gate did. Pairs already compared are left as they are.
  if (n <= options.exhaustive_plain_limit) {
    std::vector<std::vector<int64_t>> partners(n);  // partners[a]: b > a at the threshold
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = a + 1; b < n; ++b)
        if (plain_correlation_any_filter(signatures[a], signatures[b]) >= options.plain_threshold)
          partners[a].push_back(b);
    std::vector<std::pair<int64_t, int64_t>> seen;
    for (const ComparedPair& p : result.compared) seen.push_back({p.a, p.b});
    std::sort(seen.begin(), seen.end());
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b : partners[a])
        if (!std::binary_search(seen.begin(), seen.end(), std::pair<int64_t, int64_t>{a, b})) {
          ComparedPair pair;
          pair.a = a;
          pair.b = b;
          result.compared.push_back(pair);
        }
    std::sort(result.compared.begin(), result.compared.end(),
              [](const ComparedPair& x, const ComparedPair& y) {
                return std::pair(x.a, x.b) < std::pair(y.a, y.b);
              });
  }

  // The fine check needs each image's pyramids; built once for every image in a compared pair.
  // by_image[i]: the compared pairs of image i (indices into result.compared), either side.
  std::vector<std::vector<int64_t>> by_image(n);
  for (int64_t p = 0; p < static_cast<int64_t>(result.compared.size()); ++p) {
    by_image[result.compared[p].a].push_back(p);
    by_image[result.compared[p].b].push_back(p);
  }
  std::vector<std::optional<TargetPyramid>> targets(n);
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t i = 0; i < n; ++i)
    if (!by_image[i].empty()) targets[i] = make_target_pyramid(signatures[i]);

  // Each image as the aligned side against each of its partners: D(i -> j). Image i writes only
  // the direction it is the query of, so the loop is free of races and its result of timing.
  std::vector<float> forward(result.compared.size()), backward(result.compared.size());
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    if (by_image[i].empty()) continue;
    const QueryPyramid query = make_query_pyramid(signatures[i]);
    for (int64_t p : by_image[i]) {
      const ComparedPair& pair = result.compared[p];
      const int64_t other = pair.a == i ? pair.b : pair.a;
      (pair.a == i ? forward : backward)[p] = directional_similarity(query, *targets[other]);
    }
  }
  for (size_t p = 0; p < result.compared.size(); ++p) {
    ComparedPair& pair = result.compared[p];
    pair.key = key_correlation(signatures[pair.a], signatures[pair.b]);
    pair.plain = plain_correlation_any_filter(signatures[pair.a], signatures[pair.b]);
    pair.fine = std::max(forward[p], backward[p]);
    pair.near_duplicate = is_near_duplicate(pair.plain, pair.fine, options);
    for (int64_t i : {pair.a, pair.b})
      result.nearest_fine[i] = std::max(result.nearest_fine[i], pair.fine);
  }
  return result;
}

}  // namespace busi::data
