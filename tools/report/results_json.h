// results.json: every number of the report for programs to read (both runs' metrics and
// intervals, the paired differences, McNemar's test, the bootstrap settings, the environment).
#pragma once

#include "tools/formats/json_value.h"
#include "tools/report/comparison.h"

namespace busi::tools {

Json results_to_json(const Comparison& c);

}  // namespace busi::tools
