// report.html: one self-contained page (styles and plots inline, no network) with the summary,
// the metric table, models and cost, McNemar's test, the plots, the split, the settings and the
// environment.
#pragma once

#include <string>

#include "tools/report/comparison.h"

namespace busi::tools {

std::string render_report_html(const Comparison& c);

}  // namespace busi::tools
