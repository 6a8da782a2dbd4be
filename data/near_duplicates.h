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
//                             same view saved again, e.g. frozen anew with calipers drawn. The
//                             highest correlation over five thumbnail filters counts (area, box,
//                             bilinear, Lanczos-3, bilinear without antialiasing: image.h), so
//                             the grouping does not hang on one resampling choice.
//   both close: plain >= combined_plain and fine >= combined_fine: another view of the same
//                             lesion (the calipers moved, the probe shifted a little), which
//                             neither measure alone reaches (BUSI's benign 204/206/249/303 series,
//                             docs/near_duplicates.md).
// LSH candidates whose 16 px keys correlate at `gate` or more are compared by both measures (the
// cheap test first; every near-duplicate pair measured on BUSI has a key correlation of 0.77 or
// more). With at most `exhaustive_plain_limit` images every pair is also compared by the plain
// measure, so that none it finds depends on LSH's recall or on the gate (BUSI's 662 images:
// 219,000 pairs, a fraction of a second).
// The thresholds come from BUSI's distribution of nearest-neighbour similarity
// (docs/near_duplicates.md).
struct NearDuplicateOptions {
  float fine_threshold = 0.40f;
  float plain_threshold = 0.93f;
  float combined_plain = 0.92f, combined_fine = 0.35f;
  float gate = 0.70f;
  int64_t exhaustive_plain_limit = 10000;
  LshOptions lsh;
  int threads = 0;  // 0: all cores
};

// One compared pair: the images a < b (indices into the signatures) and their similarities.
struct ComparedPair {
  int64_t a = 0, b = 0;
  float key = 0, plain = 0, fine = 0;  // plain: the highest over the five filters
  bool near_duplicate = false;
};

struct NearDuplicates {
  // Every candidate that passed the gate, and every pair the exhaustive plain pass found at the
  // plain threshold, sorted by (a, b).
  std::vector<ComparedPair> compared;
  // Per image: the highest fine similarity over its compared pairs (its nearest neighbour by the
  // fine measure), or -1 when no pair of it passed the gate.
  std::vector<float> nearest_fine;
  int64_t candidates = 0;  // LSH bucket pairs tested by the gate (once per table they share)
  int64_t near_duplicate_pairs() const;
};

NearDuplicates find_near_duplicates(const std::vector<ImageSignature>& signatures,
                                    const NearDuplicateOptions& options = {});

// The pairs `options` calls near-duplicates from plain correlation and the fine similarity, for
// a pair measured without LSH (tests, audits): plain >= plain_threshold || fine >= fine_threshold
// || (plain >= combined_plain && fine >= combined_fine).
bool is_near_duplicate(float plain, float fine, const NearDuplicateOptions& options);

}  // namespace busi::data
