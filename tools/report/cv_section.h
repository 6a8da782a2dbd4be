// The cross-validation part of the report (compare's default run): the headline, each fold's
// scores as a table and a plot, the corrected resampled t-tests with the smallest detectable
// difference, and the ablation (VGG16 from random weights) when there is one; in HTML, Markdown
// and results.json. Empty (or null) for a single-split comparison.
#pragma once

#include <string>

#include "tools/formats/json_value.h"
#include "tools/report/comparison.h"

namespace busi::tools {

std::string cv_section_html(const Comparison& c);
std::string cv_section_markdown(const Comparison& c);
Json cv_to_json(const Comparison& c);

}  // namespace busi::tools
