// Near-duplicate detection: which pairs of images show the same scan (resized, re-cropped or
// shifted by up to about 10 %, brighter, re-encoded, with marks drawn on it), found among
// candidates from LSH, never from all pairs.
#pragma once

#include <cstdint>
#include <vector>

#include "data/image_signature.h"
#include "data/lsh.h"

namespace busi::data {

// Two images are near-duplicates when
//   fine  >= fine_threshold:  their fine detail, aligned (aligned_similarity.h), correlates: the
//                             same frame after a crop, shift, resize, brightness change, JPEG or
//                             drawn marks; or
//   plain >= plain_threshold: their plain 32 x 32 grey thumbnails correlate (no alignment): the
//                             same view saved again, e.g. frozen anew with calipers drawn.
// Only LSH candidates whose 16 px keys correlate at `gate` or more are compared (the cheap test
// first; every near-duplicate pair measured on BUSI has a key correlation of 0.77 or more).
// The thresholds come from BUSI's distribution of nearest-neighbour similarity
// (docs/near_duplicates.md).
struct NearDuplicateOptions {
  float fine_threshold = 0.40f;
  float plain_threshold = 0.93f;
  float gate = 0.70f;
  LshOptions lsh;
  int threads = 0;  // 0: all cores
};

// One compared pair: the images a < b (indices into the signatures) and their similarities.
struct ComparedPair {
  int64_t a = 0, b = 0;
  float key = 0, plain = 0, fine = 0;
  bool near_duplicate = false;
};

struct NearDuplicates {
  std::vector<ComparedPair> compared;  // every candidate that passed the gate, sorted by (a, b)
  // Per image: the highest fine similarity over its compared pairs (its nearest neighbour by the
  // fine measure), or -1 when no pair of it passed the gate.
  std::vector<float> nearest_fine;
  int64_t candidates = 0;  // LSH bucket pairs tested by the gate (once per table they share)
  int64_t near_duplicate_pairs() const;
};

NearDuplicates find_near_duplicates(const std::vector<ImageSignature>& signatures,
                                    const NearDuplicateOptions& options = {});

// The pairs `options` calls near-duplicates from plain correlation and the fine similarity, for
// a pair measured without LSH (tests, audits): plain >= plain_threshold || fine >= fine_threshold.
bool is_near_duplicate(float plain, float fine, const NearDuplicateOptions& options);

}  // namespace busi::data
