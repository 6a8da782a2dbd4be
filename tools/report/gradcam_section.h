// The report's "What the models look at" section: the Grad-CAM panel of a cross-validated
// comparison (compare/gradcam_panel.h), each chosen test image beside both models' maps.
#pragma once

#include <string>

#include "tools/report/comparison.h"

namespace busi::tools {

// "" when the comparison has no panel.
std::string gradcam_section_html(const Comparison& c);
std::string gradcam_section_markdown(const Comparison& c);

}  // namespace busi::tools
