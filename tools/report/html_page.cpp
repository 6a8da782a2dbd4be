// The sections of report.html (see html_page.h).
#include "tools/report/html_page.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "tools/report/calibration_section.h"
#include "tools/report/cv_section.h"
#include "tools/report/gradcam_section.h"
#include "tools/report/format.h"
#include "tools/report/html_charts.h"
#include "tools/report/html_style.h"
#include "tools/report/split_facts.h"
#include "tools/report/run_facts.h"
#include "tools/report/side_by_side.h"

namespace busi::tools {

namespace {

std::string cell_with_ci(double value, const Interval& ci, bool bold) {
  std::string v = fmt_metric(value);
  if (bold) v = "<b>" + v + "</b>";
  const std::string interval = fmt_interval(ci);
  return "<td class=\"num\">" + v +
         (interval.empty() ? "" : "<span class=\"ci\">" + interval + "</span>") + "</td>";
}

std::string metric_table_html(const Comparison& c) {
  std::string h = "<table><thead><tr><th>Metric</th><th class=\"num\">" + dot(kColourA) +
                  esc(c.a.display_name) + "</th><th class=\"num\">" + dot(kColourB) +
                  esc(c.b.display_name) + "</th><th class=\"num\">Difference (" +
                  esc(c.b.display_name) + " \u2212 " + esc(c.a.display_name) +
                  ")</th></tr></thead><tbody>";
  int group = -2;
  for (const MetricRow& row : c.rows) {
    if (row.class_index != group) {
      group = row.class_index;
      std::string title = "All classes";
      if (group >= 0) {
        const auto k = static_cast<size_t>(group);
        title = "Class \u201c" + c.a.class_names[k] + "\u201d \u2014 " +
                count_of(c.a.metrics.support[k], "test image");
        if (c.b.metrics.support[k] != c.a.metrics.support[k])
          title += " (" + std::to_string(c.b.metrics.support[k]) + " in " + c.b.display_name + ")";
      }
      h += "<tr class=\"group\"><td colspan=\"4\">" + esc(title) + "</td></tr>";
    }
    const bool a_better = row.a > row.b, b_better = row.b > row.a;
    const bool significant = excludes_zero(row.difference_ci);
    const std::string diff = fmt_signed(row.difference);
    const std::string diff_ci = fmt_interval(row.difference_ci);
    h += "<tr><td>" + esc(row.label) + "</td>" + cell_with_ci(row.a, row.a_ci, a_better) +
         cell_with_ci(row.b, row.b_ci, b_better) + "<td class=\"num" + (significant ? " sig" : "") +
         "\">" + diff + (diff_ci.empty() ? "" : "<span class=\"ci\">" + diff_ci + "</span>") +
         "</td></tr>";
  }
  return h + "</tbody></table>";
}

std::string two_column_table(const Comparison& c, const FactRows& rows, bool numeric) {
  const std::string cls = numeric ? " class=\"num\"" : "";
  std::string h = "<table class=\"facts\"><thead><tr><th></th><th" + cls + ">" + dot(kColourA) +
                  esc(c.a.display_name) + "</th><th" + cls + ">" + dot(kColourB) +
                  esc(c.b.display_name) + "</th></tr></thead><tbody>";
  for (const auto& [name, values] : rows) {
    if (values.first == kDash && values.second == kDash) continue;  // a fact neither run records
    h += "<tr><td>" + esc(name) + "</td><td" + cls + ">" + esc(values.first) + "</td><td" + cls +
         ">" + esc(values.second) + "</td></tr>";
  }
  return h + "</tbody></table>";
}

// Settings of both runs side by side; rows whose values differ are shaded.
std::string settings_table_html(const Comparison& c) {
  std::string h = "<table class=\"settings\"><thead><tr><th>Setting (config.json)</th><th>" +
                  dot(kColourA) + esc(c.a.display_name) + "</th><th>" + dot(kColourB) +
                  esc(c.b.display_name) + "</th></tr></thead><tbody>";
  for (const SettingRow& row : setting_rows(c))
    h += std::string("<tr") + (row.a != row.b ? " class=\"differs\"" : "") + "><td><code>" +
         esc(row.key) + "</code></td><td class=\"value\">" + esc(row.a) +
         "</td><td class=\"value\">" + esc(row.b) + "</td></tr>";
  return h + "</tbody></table><p class=\"note\">Shaded rows differ between the two runs.</p>";
}

// Images per class and subset, from split.csv.
std::string split_table_html(const RunFolder& run, const std::vector<std::string>& class_names) {
  if (!run.split) return "<p class=\"note\">No split.csv in " + esc(run.dir) + ".</p>";
  const CsvTable& split = *run.split;
  const int cls = split.column_index("class"), subset = split.column_index("subset");
  if (cls < 0 || subset < 0) return "<p class=\"note\">split.csv lacks class/subset columns.</p>";
  std::vector<std::string> subsets = {"train", "val", "test"};
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  std::vector<std::string> classes = class_names;
  for (const auto& row : split.rows) {
    const std::string& name = row[static_cast<size_t>(cls)];
    ++counts[{name, row[static_cast<size_t>(subset)]}];
    if (std::find(classes.begin(), classes.end(), name) == classes.end()) classes.push_back(name);
    if (row[static_cast<size_t>(subset)] == "excluded" && subsets.size() == 3)
      subsets.push_back("excluded");  // label conflicts, left out of training and evaluation
  }
  std::string h = "<table style=\"width:auto\"><thead><tr><th>Class</th>";
  for (const auto& s : subsets) h += "<th class=\"num\">" + s + "</th>";
  h += "<th class=\"num\">total</th></tr></thead><tbody>";
  std::map<std::string, int64_t> column_totals;
  for (const std::string& name : classes) {
    int64_t total = 0;
    h += "<tr><td>" + esc(name) + "</td>";
    for (const auto& s : subsets) {
      const int64_t n = counts[{name, s}];
      total += n;
      column_totals[s] += n;
      h += "<td class=\"num\">" + std::to_string(n) + "</td>";
    }
    h += "<td class=\"num\">" + std::to_string(total) + "</td></tr>";
  }
  h += "<tr class=\"group\"><td>all</td>";
  int64_t grand = 0;
  for (const auto& s : subsets) {
    grand += column_totals[s];
    h += "<td class=\"num\">" + std::to_string(column_totals[s]) + "</td>";
  }
  return h + "<td class=\"num\">" + std::to_string(grand) + "</td></tr></tbody></table>";
}

std::string summary_card(const RunFolder& run, double f1_value, const Interval& f1_ci,
                         const std::vector<MetricRow>& rows, bool is_b) {
  const auto value_of = [&](const std::string& key) {
    for (const MetricRow& r : rows)
      if (r.key == key) return is_b ? r.b : r.a;
    return std::nan("");
  };
  return std::string("<div class=\"card") + (is_b ? " b" : "") + "\"><h3>" + esc(run.display_name) +
         "</h3><p class=\"init\">" + esc(describe_initialisation(run)) +
         "</p><div><span class=\"big\">" + fmt_metric(f1_value) +
         "</span> <span class=\"ci\">macro-F1 " + fmt_interval(f1_ci) +
         "</span></div><div class=\"kv\"><span>accuracy</span><span>" +
         fmt_metric(value_of("accuracy")) + "</span><span>balanced accuracy</span><span>" +
         fmt_metric(value_of("balanced_accuracy")) + "</span><span>macro ROC-AUC</span><span>" +
         fmt_metric(value_of("macro_auc")) + "</span><span>parameters</span><span>" +
         fmt_parameters(summary_number(run, "parameters")) +
         "</span><span>training time</span><span>" +
         fmt_duration(summary_number(run, "training_seconds")) + "</span></div></div>";
}

std::string mcnemar_html(const Comparison& c) {
  const PairedComparison& p = c.paired;
  const std::string a = esc(c.a.display_name), b = esc(c.b.display_name);
  std::string h = "<table class=\"mcnemar\"><thead><tr><th>" + std::to_string(p.paired) +
                  " paired test images</th><th class=\"num\">" + b +
                  " right</th><th class=\"num\">" + b + " wrong</th></tr></thead><tbody><tr><td>" +
                  a + " right</td><td class=\"num\">" + std::to_string(p.both_right) +
                  "</td><td class=\"num\"><b>b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
                  "</b></td></tr><tr><td>" + a + " wrong</td><td class=\"num\"><b>c = " +
                  std::to_string(p.mcnemar.a_wrong_b_right) + "</b></td><td class=\"num\">" +
                  std::to_string(p.both_wrong) + "</td></tr></tbody></table>";
  h += "<p>McNemar's exact test: b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       ", c = " + std::to_string(p.mcnemar.a_wrong_b_right) +
       ", two-sided p = " + fmt_p_value(p.mcnemar.p_value) +
       " <span class=\"note\">(continuity-corrected \u03c7\u00b2 = " +
       printf_string("%.3f", p.mcnemar.statistic) + ")</span></p>";
  h += "<p><b>" + esc(p.interpretation) + "</b></p>";
  return h +
         "<p class=\"note\">Only the images on which the models disagree (b and c) carry "
         "information; under equal error rates b ~ Binomial(b + c, \u00bd).</p>";
}

}  // namespace

std::string render_report_html(const Comparison& c) {
  const std::string title = "BUSI classifiers: " + c.a.display_name + " vs " + c.b.display_name;
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>" +
      esc(title) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n"
      "<body>\n<main>\n";
  std::string classes;
  for (size_t k = 0; k < c.a.class_names.size(); ++k)
    classes += (k ? ", " : "") + c.a.class_names[k];
  h += "<header><h1>" + esc(title) + "</h1><p>Breast-ultrasound images (" + esc(classes) +
       ") \u00b7 " +
       (c.cv ? std::to_string(c.cv->folds) + "-fold cross-validation" +
                   (c.cv->repeats > 1 ? " \u00d7 " + std::to_string(c.cv->repeats) : "") +
                   " \u00b7 " + count_of(c.paired.paired, "image") + " each tested once"
             : count_of(c.paired.paired, "paired test image")) +
       " \u00b7 report built " + esc(c.environment.generated_at) + "</p></header>\n";

  if (!c.warnings.empty()) {
    h += "<section class=\"warnings\"><h2>Warnings</h2><ul>";
    for (const auto& w : c.warnings) h += "<li>" + esc(w) + "</li>";
    h += "</ul></section>\n";
  }

  const MetricRow& f1 = row_named(c, "macro_f1");
  h += "<section><h2>Summary</h2><div class=\"cards\">" +
       summary_card(c.a, f1.a, f1.a_ci, c.rows, false) +
       summary_card(c.b, f1.b, f1.b_ci, c.rows, true) + "</div><p class=\"headline\">" +
       esc(headline(c)) + "</p><p class=\"headline\">" + esc(c.paired.interpretation) +
       "</p></section>\n";

  h += cv_section_html(c);

  h += std::string("<section><h2>Test metrics") + (c.cv ? " (pooled out-of-fold predictions" : "") +
       (c.repeats_in_table > 1 ? ", means over " + std::to_string(c.repeats_in_table) + " repeats)"
                               : (c.cv ? ")" : "")) +
       "</h2>" + metric_table_html(c) +
       "<p class=\"note\">Brackets: 95 % percentile-bootstrap confidence intervals (" +
       std::to_string(c.options.bootstrap_rounds) + " resamples of the test images" +
       (c.a.groups.empty() ? "" : ", each near-duplicate group drawn whole") + ", seed " +
       std::to_string(c.options.bootstrap_seed) +
       "). The difference column is a paired bootstrap over the images both runs predicted; it is "
       "in bold where its interval excludes 0. The higher of the two values is in bold. Precision "
       "of a class never predicted is 0 by convention.</p></section>\n";

  h += "<section><h2>Models and cost</h2>" + two_column_table(c, model_facts(c), true);
  for (const RunFolder* run : {&c.a, &c.b})  // the trainer's own account of the weights loaded
    if (const Json* summary = run->config.find("imagenet_summary"); summary && summary->is_string())
      h +=
          "<p class=\"note\">" + esc(run->display_name) + ": " + esc(summary->as_string()) + "</p>";
  h += "</section>\n";
  h += "<section><h2>McNemar's test on the paired test predictions</h2>" + mcnemar_html(c) +
       "</section>\n";
  h += std::string("<section><h2>Learning curves") + (c.cv ? " (fold 1)" : "") + "</h2>" +
       learning_curves_html(c) +
       "<p class=\"note\">Solid: training loss (the loss optimised: class-weighted, averaged over "
       "the epoch in training mode); dashed: validation loss (plain cross-entropy, eval mode). "
       "Dotted vertical lines mark "
       "a change of training phase (VGG16: classifier head first, then "
       "fine-tuning).</p></section>\n";
  h += "<section><h2>Confusion matrices (test set)</h2>" + confusion_matrices_html(c) +
       "</section>\n";
  h += "<section><h2>ROC curves, one class against the rest (test set)</h2>" + roc_curves_html(c) +
       "</section>\n";
  h += calibration_section_html(c);
  h += malignant_section_html(c);
  h += gradcam_section_html(c);
  h += std::string("<section><h2>Data split") + (c.cv ? " (fold 1 shown)" : "") +
       "</h2><p>From <code>" + esc(file_in(c.a.dir, "split.csv")) + "</code>" +
       (c.cv ? " (the first fold's; every fold's counts are in the cross-validation table)" : "") +
       (c.a.split && c.b.split && c.a.split->rows == c.b.split->rows
            ? "; both runs used exactly the same split."
            : ".") +
       " " + esc(grouping_sentence(c.a)) + "</p>" + split_table_html(c.a, c.a.class_names) +
       "</section>\n";
  h += "<section><h2>Settings</h2>" + settings_table_html(c) + "</section>\n";
  h += "<section><h2>Environment</h2>" + two_column_table(c, environment_facts(c), false) +
       "<p class=\"note\">Report built " + esc(c.environment.generated_at) + " with " +
       esc(c.environment.compiler) + " on " + esc(c.environment.host) + ".</p></section>\n";
  h += "<footer>Metrics are recomputed from each run's <code>predictions.csv</code> (prediction = "
       "the class of highest probability). Generated by busi-engine <code>compare</code>; the same "
       "numbers are in <code>results.json</code> and <code>report.md</code>.</footer>\n";
  return h + "</main>\n</body>\n</html>\n";
}

}  // namespace busi::tools
