// What the models look at: for a few out-of-fold test images of each class (one both models got
// right, one both got wrong, one they disagree on, where the data has them), the image beside
// each model's Grad-CAM map for the class it predicted, computed with the fold model that tested
// the image. Lets a reader see whether a model reads the lesion or the burnt-in text and
// calipers. Written to OUT/gradcam/panel.json with the pictures inline as PNG data URIs, which
// the report shows (report/cv_section.h).
#pragma once

#include <cstdint>
#include <string>

#include "engine/device.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

// Chooses the images from the first two models' pooled out-of-fold predictions (a hash of each
// path orders the candidates, so the choice is fixed for a comparison but not biased to file
// names), computes the maps and writes `plan.out`/kGradcamPanelFile. Returns its path. Throws
// busi::Error naming the checkpoint or image that cannot be read.
std::string write_gradcam_panel(const CvPlan& plan, Device device, int64_t display_size = 160);

}  // namespace busi::tools
