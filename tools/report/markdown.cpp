// report.md (see markdown.h).
#include "tools/report/markdown.h"

#include "tools/report/split_facts.h"

#include "tools/report/calibration_section.h"
#include "tools/report/cv_section.h"
#include "tools/report/format.h"
#include "tools/report/side_by_side.h"
#include "tools/report/gradcam_section.h"

namespace busi::tools {

namespace {

// Pipes inside a Markdown table cell must be escaped.
std::string md(std::string s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

std::string md_value(double v, const Interval& ci) {
  const std::string interval = fmt_interval(ci);
  return fmt_metric(v) + (interval.empty() ? "" : " " + interval);
}

std::string md_fact_table(const Comparison& c, const FactRows& rows) {
  std::string m =
      "| | " + md(c.a.display_name) + " | " + md(c.b.display_name) + " |\n|---|---:|---:|\n";
  for (const auto& [name, values] : rows)
    if (values.first != kDash || values.second != kDash)
      m += "| " + md(name) + " | " + md(values.first) + " | " + md(values.second) + " |\n";
  return m;
}

}  // namespace

std::string render_report_markdown(const Comparison& c) {
  const std::string a = md(c.a.display_name), b = md(c.b.display_name);
  std::string m = "# BUSI classifiers: " + a + " vs " + b + "\n\n";
  m += "Report built " + c.environment.generated_at + " from " +
       (c.cv ? "the " + std::to_string(c.cv->folds * c.cv->repeats) +
                   " fold runs of each model in `" + c.cv->out + "`"
             : "`" + c.a.dir + "` and `" + c.b.dir + "`") +
       ". Plots (learning curves, confusion matrices, ROC curves) are in `report.html`.\n\n";
  for (const auto& w : c.warnings) m += "> **Warning:** " + w + "\n";
  if (!c.warnings.empty()) m += "\n";
  if (!c.cv) m += headline(c) + "\n\n";
  m += cv_section_markdown(c);  // its headline first

  m += std::string(c.cv ? "## Test metrics (pooled out-of-fold predictions" : "## Test metrics") +
       (c.repeats_in_table > 1 ? ", means over " + std::to_string(c.repeats_in_table) + " repeats)"
                               : (c.cv ? ")" : "")) +
       "\n\n| Metric | " + a + " | " + b + " | " + b + " \u2212 " + a +
       " |\n|---|---:|---:|---:|\n";
  int group = -2;
  for (const MetricRow& row : c.rows) {
    if (row.class_index != group && row.class_index >= 0) {
      const auto k = static_cast<size_t>(row.class_index);
      m += "| **" + md(c.a.class_names[k]) + "** (" +
           count_of(c.a.metrics.support[k], "test image") + ") | | | |\n";
    }
    group = row.class_index;
    m += "| " + md(row.label) + " | " + md_value(row.a, row.a_ci) + " | " +
         md_value(row.b, row.b_ci) + " | " + fmt_signed(row.difference) + " " +
         fmt_interval(row.difference_ci) + " |\n";
  }
  m += "\n95 % percentile-bootstrap intervals (" + std::to_string(c.options.bootstrap_rounds) +
       " resamples" + (c.a.groups.empty() ? "" : " of whole near-duplicate groups") + ", seed " +
       std::to_string(c.options.bootstrap_seed) +
       "); the difference uses a paired bootstrap over the shared test images.\n\n";

  m += "## Models and cost\n\n" + md_fact_table(c, model_facts(c)) + "\n";

  const PairedComparison& p = c.paired;
  m += "## McNemar's test\n\n| " + std::to_string(p.paired) + " paired images | " + b +
       " right | " + b + " wrong |\n|---|---:|---:|\n| " + a + " right | " +
       std::to_string(p.both_right) + " | b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       " |\n| " + a + " wrong | c = " + std::to_string(p.mcnemar.a_wrong_b_right) + " | " +
       std::to_string(p.both_wrong) + " |\n\n";
  m += "b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       ", c = " + std::to_string(p.mcnemar.a_wrong_b_right) +
       ", exact two-sided p = " + fmt_p_value(p.mcnemar.p_value) +
       " (continuity-corrected chi-square " + printf_string("%.3f", p.mcnemar.statistic) + "). " +
       p.interpretation + "\n\n";

  m += calibration_sections_markdown(c);
  m += gradcam_section_markdown(c);
  m += "## Data split\n\n" + grouping_sentence(c.a) + "\n\n";
  m += "## Settings\n\n| Setting | " + a + " | " + b + " |\n|---|---|---|\n";
  for (const SettingRow& row : setting_rows(c))
    m += "| `" + row.key + "` | " + md(row.a) + " | " + md(row.b) + " |\n";
  m += "\n## Environment\n\n" + md_fact_table(c, environment_facts(c)) + "\nReport built with " +
       c.environment.compiler + " on " + c.environment.host + ".\n";
  return m;
}

}  // namespace busi::tools
