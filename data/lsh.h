// Candidate pairs for near-duplicate detection, from locality-sensitive hashing of the 16 px keys
// (random hyperplanes, "SimHash"), so that N images cost about N log N, not N^2 / 2 comparisons.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "data/image_signature.h"

namespace busi::data {

// Each of `tables` hash tables gives an image the `bits`-bit key sign(h_1 . x), ..., sign(h_k . x)
// of its normalised 16 px key x, with h Gaussian random vectors drawn from `seed`. Two keys at
// angle theta = acos(c) (c their correlation) agree on one bit with probability 1 - theta / pi,
// so they are a candidate (share a bucket in at least one table) with probability
//   1 - (1 - (1 - acos(c) / pi)^bits)^tables;
// with 16 bits and 128 tables: c = 0.9: 0.99996, c = 0.8: 0.96, c = 0.75: 0.86, and c = 0
// (unrelated images): 128 / 65536 = 0.002, about 1e7 candidates among 100,000 images.
struct LshOptions {
  int bits = 16;
  int tables = 128;
  uint64_t seed = 0x6275736931ULL;
  int threads = 0;  // 0: all cores
};

// Pairs (a, b), a < b, of images sharing a bucket in some table and passing `keep` (when given),
// sorted, each once. Flat images (ImageSignature::flat) are nobody's candidates. `keep` is applied
// inside each bucket, where the images' signatures are few and in cache, so that the many
// candidates a cheap test rejects are never stored (with 100,000 images, tens of millions);
// `examined`, when given, receives the number of bucket pairs tested (a pair sharing several
// tables counts once per table).
std::vector<std::pair<int64_t, int64_t>> lsh_candidate_pairs(
    const std::vector<ImageSignature>& signatures, const LshOptions& options = {},
    const std::function<bool(int64_t, int64_t)>& keep = {}, int64_t* examined = nullptr);

}  // namespace busi::data
