// Writing the three files of a comparison report (see report.h).
#include "tools/report/report.h"

#include <filesystem>

#include "kernels/common/error.h"
#include "tools/formats/text_file.h"
#include "tools/report/html_page.h"
#include "tools/report/markdown.h"
#include "tools/report/results_json.h"

namespace busi::tools {

namespace fs = std::filesystem;

ReportFiles write_comparison_report(const std::string& dir_a, const std::string& dir_b,
                                    const std::string& out_dir, const ReportOptions& options) {
  return write_report_files(build_comparison(dir_a, dir_b, options), out_dir);
}

ReportFiles write_cv_report(const CvPlan& plan, const ReportOptions& options,
                            const std::string& out_dir) {
  return write_report_files(build_cv_comparison(plan, options),
                            out_dir.empty() ? plan.out : out_dir);
}

ReportFiles write_report_files(const Comparison& c, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  BUSI_CHECK(fs::is_directory(out_dir), out_dir, ": cannot create the output folder",
             ec ? " (" + ec.message() + ")" : std::string());
  ReportFiles files{file_in(out_dir, "report.html"), file_in(out_dir, "report.md"),
                    file_in(out_dir, "results.json")};
  write_text_file(files.html, render_report_html(c));
  write_text_file(files.markdown, render_report_markdown(c));
  write_text_file(files.json, results_to_json(c).dump(2) + "\n");
  return files;
}

}  // namespace busi::tools
