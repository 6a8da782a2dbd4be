// The report's sections on the probabilities themselves: calibration before and after temperature
// scaling (a table and a reliability diagram per model), and the malignant class read against
// the rest at the default decision and at the threshold chosen on validation.
#pragma once

#include <string>

#include "tools/formats/json_value.h"
#include "tools/report/comparison.h"

namespace busi::tools {

std::string calibration_section_html(const Comparison& c);
std::string malignant_section_html(const Comparison& c);
std::string calibration_sections_markdown(const Comparison& c);
// results.json's "calibration" and "malignant" of one run (null when the run has none).
Json run_calibration_json(const RunFolder& run);

}  // namespace busi::tools
