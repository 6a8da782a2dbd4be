// report.md: the report's tables and verdicts as Markdown (the plots are in report.html only).
#pragma once

#include <string>

#include "tools/report/comparison.h"

namespace busi::tools {

std::string render_report_markdown(const Comparison& c);

}  // namespace busi::tools
