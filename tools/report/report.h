// The comparison report of two trainer run folders, what compare writes: report.html, report.md
// and results.json (comparison.h holds what they show).
#pragma once

#include <string>

#include "tools/report/comparison.h"

namespace busi::tools {

struct ReportFiles {
  std::string html, markdown, json;
};
// build_comparison, then writes report.html, report.md and results.json into out_dir (created
// when missing). Throws busi::Error naming the folder or file that cannot be written.
ReportFiles write_comparison_report(const std::string& dir_a, const std::string& dir_b,
                                    const std::string& out_dir, const ReportOptions& options = {});
// The same for a cross-validated comparison (build_cv_comparison), into plan.out.
// The report of the cross-validated comparison in plan.out, written there or into `out_dir`.
ReportFiles write_cv_report(const CvPlan& plan, const ReportOptions& options = {},
                            const std::string& out_dir = "");
// The three files of a comparison already built.
ReportFiles write_report_files(const Comparison& c, const std::string& out_dir);

}  // namespace busi::tools
