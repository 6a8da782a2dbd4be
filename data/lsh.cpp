// Random-hyperplane LSH tables over the 16 px keys (see lsh.h).
#include "data/lsh.h"

#include <omp.h>

#include <algorithm>
#include <numeric>

#include "engine/random.h"
#include "kernels/common/error.h"

namespace busi::data {

std::vector<std::pair<int64_t, int64_t>> lsh_candidate_pairs(
    const std::vector<ImageSignature>& signatures, const LshOptions& options,
    const std::function<bool(int64_t, int64_t)>& keep, int64_t* examined) {
  BUSI_CHECK(options.bits >= 1 && options.bits <= 32 && options.tables >= 1,
             "lsh: bits must be in [1, 32] and tables at least 1");
  constexpr int64_t D = kKeySize * kKeySize;
  const int64_t n = static_cast<int64_t>(signatures.size());
  const int64_t planes = int64_t(options.bits) * options.tables;
  // (tables * bits, D): the hyperplanes' normals, one row each.
  std::vector<float> normals(planes * D);
  Generator gen(options.seed);
  for (float& v : normals) v = static_cast<float>(gen.normal());

  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  // keys[t * n + i]: image i's key in table t.
  std::vector<uint32_t> keys(options.tables * n, 0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    const float* x = signatures[i].key.data();
    for (int64_t t = 0; t < options.tables; ++t) {
      uint32_t key = 0;
      for (int64_t b = 0; b < options.bits; ++b) {
        const float* h = normals.data() + (t * options.bits + b) * D;
        key |= uint32_t(dot_product(h, x, D) >= 0.0f) << b;
      }
      keys[t * n + i] = key;
    }
  }

  // Per table: sort (key, id), every run of equal keys gives its pairs, packed as a * n + b.
  std::vector<std::vector<uint64_t>> per_table(options.tables);
  std::vector<int64_t> tested(options.tables, 0);
#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (int64_t t = 0; t < options.tables; ++t) {
    std::vector<std::pair<uint32_t, int64_t>> entries;
    entries.reserve(n);
    for (int64_t i = 0; i < n; ++i)
      if (!signatures[i].flat) entries.push_back({keys[t * n + i], i});
    std::sort(entries.begin(), entries.end());
    std::vector<uint64_t>& out = per_table[t];
    for (size_t start = 0; start < entries.size();) {
      size_t end = start + 1;
      while (end < entries.size() && entries[end].first == entries[start].first) ++end;
      for (size_t p = start; p < end; ++p)
        for (size_t q = p + 1; q < end; ++q) {
          const int64_t a = entries[p].second, b = entries[q].second;  // a < b: ids sort too
          ++tested[t];
          if (!keep || keep(a, b)) out.push_back(uint64_t(a) * uint64_t(n) + uint64_t(b));
        }
      start = end;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  if (examined != nullptr) *examined = std::accumulate(tested.begin(), tested.end(), int64_t{0});
  std::vector<uint64_t> all;
  for (const auto& table : per_table) all.insert(all.end(), table.begin(), table.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(all.size());
  for (uint64_t code : all)
    pairs.push_back(
        {static_cast<int64_t>(code / uint64_t(n)), static_cast<int64_t>(code % uint64_t(n))});
  return pairs;
}

}  // namespace busi::data
