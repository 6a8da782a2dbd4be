// Whether a split leaks: validation and test images with a near-duplicate in the training subset,
// counted three ways (by the split's groups, and by brute force over every pair, with the
// near-duplicate measure and with a plain 32 x 32 thumbnail correlation alone).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_signature.h"
#include "data/near_duplicates.h"
#include "data/split.h"

namespace busi::tools {

struct LeakCheck {
  int64_t evaluated = 0;  // validation + test images
  // Of those, the ones with a training image ...
  int64_t in_group = 0;    // ... in their duplicate group (index.duplicate_groups)
  int64_t by_measure = 0;  // ... that is a near-duplicate by the measure (key >= gate, then
                           // plain >= plain_threshold or fine >= fine_threshold), every pair
                           // compared: what LSH could have missed
  int64_t ungated = 0;     // ... with fine >= fine_threshold or plain >= plain_threshold, the
                           // key gate left out (pairs the measure does not call near-duplicates)
  int64_t by_plain = 0;    // ... whose plain 32 px thumbnail correlates at plain_threshold or more
  std::vector<std::string> examples;  // up to 10: "val 'a' ~ train 'b' (plain 0.95, fine 0.61)"
  std::string summary() const;
};

// Compares every validation and test image with every training image of `split`.
LeakCheck check_split_leaks(const data::DatasetIndex& index,
                            const std::vector<data::ImageSignature>& signatures,
                            const data::Split& split, const data::NearDuplicateOptions& options);

}  // namespace busi::tools
