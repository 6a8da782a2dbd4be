// compare --external DIR: both models' fold ensembles scored on a labelled folder that took no
// part in training or selection (another hospital's images, BUS-BRA, BrEaST, a held-out set), in
// the same class sub-folders as the training data (BUSI's original layout works: *_mask* files
// are skipped). An image of DIR that is a near-duplicate of an image the comparison trained on (by
// the grouping's rules: data/near_duplicates.h) is listed as "seen" and scored apart, so that a
// leak cannot hide in the figure. Written to OUT/external/<name>/: predictions_<model>.csv,
// seen.csv and external.json (what the report shows).
#pragma once

#include <string>

#include "engine/device.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

struct ExternalOptions {
  int bootstrap_rounds = 1000;
  bool flip = false;  // test-time augmentation: the mirror image averaged in
};

// Scores every model of `plan` on `folder`; returns the external.json written. Throws
// busi::Error naming the folder when it is missing, holds no class folders, or its classes are
// not the training data's.
std::string score_external_folder(const CvPlan& plan, const std::string& folder, Device device,
                                  const ExternalOptions& options = {});

// The name of an external folder's results: its last path component ("BUS-BRA"), made safe.
std::string external_name(const std::string& folder);

}  // namespace busi::tools
