// Calibration and the malignant operating point in report.html, report.md and results.json (see
// calibration_section.h).
#include "tools/report/calibration_section.h"

#include <cmath>

#include "tools/report/format.h"
#include "tools/report/html_style.h"
#include "tools/report/reliability_chart.h"

namespace busi::tools {

namespace {

std::string value_ci(double v, const Interval& ci) {
  const std::string interval = fmt_interval(ci);
  return fmt_metric(v) + (interval.empty() ? "" : " " + interval);
}

// A table cell: the value, and its interval in the muted style of the metric table.
std::string td(double v, const Interval& ci) {
  const std::string interval = fmt_interval(ci);
  return "<td class=\"num\">" + fmt_metric(v) +
         (interval.empty() ? "" : "<span class=\"ci\">" + interval + "</span>") + "</td>";
}

// "4 of 26": the malignant images missed among those in the test subset.
std::string missed(const BinaryRates& r) {
  return std::to_string(r.fn) + " of " + std::to_string(r.tp + r.fn);
}

double json_number(const Json& j, const char* key) {
  const Json* v = j.is_object() ? j.find(key) : nullptr;
  return v && v->is_number() ? v->as_number() : std::nan("");
}

std::string floor_text(const CalibrationScores& s) {
  const std::string range = fmt_interval(s.ece_if_calibrated_range);
  return fmt_metric(s.ece_if_calibrated) + (range.empty() ? "" : " " + range);
}

// "T = 1.83, fitted on the 98 validation images" (and a note when the fit ran into an end of
// its search range, where the validation NLL was still falling).
std::string temperature_text(const RunCalibration& cal) {
  if (!cal.temperature_range.empty())
    return "one T per fold, fitted on that fold's validation images: " + cal.temperature_range;
  std::string t = "T = " + fmt_temperature(cal.temperature) + ", fitted on the " +
                  (cal.validation_images >= 0 ? std::to_string(cal.validation_images) + " " : "") +
                  "validation images";
  if (cal.temperature >= 19.99 || cal.temperature <= 0.0501)
    t += " (at the end of the search range 0.05\u201320: the validation NLL fell all the way)";
  return t;
}

// "0.284", or for pooled folds "each fold's own (0.21 to 0.33)".
std::string threshold_text(const RunCalibration& cal, const OperatingPoint& p) {
  if (!cal.threshold_range.empty()) return "each fold's own (" + cal.threshold_range + ")";
  return printf_string("%.3f", p.threshold);
}

// How noisy the ECE is on this many test images, from the calibrated ECE's interval and floor.
std::string ece_noise_sentence(const RunCalibration& cal) {
  const CalibrationScores& s = cal.calibrated;
  std::string out = "On " + count_of(s.n, "test image") + ", the calibrated ECE's 95 % interval";
  if (std::isfinite(s.ece_ci.low) && std::isfinite(s.ece_ci.high))
    out +=
        " " + fmt_interval(s.ece_ci) + " is " + fmt_metric(s.ece_ci.high - s.ece_ci.low) + " wide";
  else
    out += " was not computed (no bootstrap)";
  if (std::isfinite(s.ece_if_calibrated))
    out += ", and perfectly calibrated probabilities would still show an ECE of " +
           fmt_metric(s.ece_if_calibrated) + " on average";
  return out + ": differences in ECE smaller than that width say little.";
}

std::string calibration_table_html(const RunFolder& run, const char* colour) {
  const RunCalibration& cal = *run.calibration;
  std::string h = "<h3>" + dot(colour) + esc(run.display_name) + "</h3><p class=\"note\">" +
                  esc(temperature_text(cal)) + "</p><table style=\"width:auto\"><thead><tr><th>" +
                  count_of(cal.raw.n, "test image") +
                  "</th><th class=\"num\">raw</th><th class=\"num\">calibrated</th></tr></thead>"
                  "<tbody>";
  h += "<tr><td>NLL</td>" + td(cal.raw.nll, cal.raw.nll_ci) +
       td(cal.calibrated.nll, cal.calibrated.nll_ci) + "</tr>";
  h += "<tr><td>Brier score</td>" + td(cal.raw.brier, cal.raw.brier_ci) +
       td(cal.calibrated.brier, cal.calibrated.brier_ci) + "</tr>";
  h += "<tr><td>ECE (" + std::to_string(cal.raw.bins.size()) + " bins)</td>" +
       td(cal.raw.ece, cal.raw.ece_ci) + td(cal.calibrated.ece, cal.calibrated.ece_ci) + "</tr>";
  h += "<tr><td>ECE if perfectly calibrated</td>" +
       td(cal.raw.ece_if_calibrated, cal.raw.ece_if_calibrated_range) +
       td(cal.calibrated.ece_if_calibrated, cal.calibrated.ece_if_calibrated_range) + "</tr>";
  return h + "</tbody></table><p>" + esc(ece_noise_sentence(cal)) + "</p>";
}

std::string rates_cells(const BinaryRates& r) {
  return td(r.sensitivity, r.sensitivity_ci) + td(r.specificity, r.specificity_ci) +
         "<td class=\"num\">" + missed(r) + "</td>";
}

// "SimpleCNN: of the 21 malignant test images, the threshold (the default decision) misses 2
// and the argmax 6; the threshold also flags 30 of the 79 other images (the argmax 9)."
std::string malignant_sentence(const std::string& name, const OperatingPoint& p) {
  const BinaryRates &d = p.at_decision, &t = p.at_threshold;
  std::string s = name + ": of the " + count_of(t.tp + t.fn, "malignant test image") +
                  ", the threshold (the default decision) misses " + std::to_string(t.fn) +
                  " and the argmax " + std::to_string(d.fn) + "; the threshold also flags " +
                  std::to_string(t.fp) + " of the " + count_of(t.tn + t.fp, "other image") +
                  " (the argmax " + std::to_string(d.fp) + ").";
  if (std::isfinite(t.sensitivity) && t.sensitivity < p.target_sensitivity)
    s += " At the threshold the test sensitivity, " + fmt_metric(t.sensitivity) +
         ", falls short of the " + printf_string("%.0f", 100 * p.target_sensitivity) +
         " % it was chosen for.";
  return s;
}

std::string malignant_missing(const RunFolder& run) {
  return run.calibration ? run.calibration->malignant_missing : run.calibration_missing;
}

}  // namespace

std::string calibration_section_html(const Comparison& c) {
  std::string h = "<section><h2>Calibration: can the probabilities be taken at their word?</h2>";
  h += "<p>A model is calibrated when, of the images it gives a confidence of 0.8, 80 % are "
       "right. Temperature scaling divides the logits by one number T, fitted on the validation "
       "subset by minimising the negative log-likelihood: T &gt; 1 softens overconfident "
       "probabilities, T &lt; 1 sharpens timid ones, and the predicted class never changes. NLL "
       "and Brier score judge the probabilities of every class, ECE the confidence of the "
       "predicted one (lower is better for all three).</p>";
  h += "<div class=\"pair\">";
  const char* colours[] = {kColourA, kColourB};
  int k = 0;
  for (const RunFolder* run : {&c.a, &c.b}) {
    const char* colour = colours[k++];
    h += "<div>";
    if (!run->calibration) {
      h += "<h3>" + dot(colour) + esc(run->display_name) + "</h3><p class=\"note\">No " +
           "calibration to show: " + esc(run->calibration_missing) + ".</p></div>";
      continue;
    }
    h += calibration_table_html(*run, colour);
    ReliabilityChart chart;
    chart.title = run->display_name + ": reliability on the test images";
    chart.raw = run->calibration->raw;
    chart.calibrated = run->calibration->calibrated;
    chart.temperature = run->calibration->temperature;
    chart.colour = colour;
    h += render_reliability_chart(chart) + "</div>";
  }
  h += "</div><p class=\"note\">Brackets: 95 % bootstrap intervals over the test images. ECE is "
       "biased upwards on few images: even perfectly calibrated predictions show one, because "
       "each bin's accuracy is estimated from the few images in it. The last row is that floor "
       "(mean and 95 % range of the ECE when each label is drawn from the model's own "
       "probabilities): an ECE within it cannot be told from perfect calibration on this many "
       "images. Reliability diagrams: bars are the calibrated accuracy per confidence bin, dots "
       "the raw one at the bin's mean confidence (area growing with its images); the numbers "
       "under the axis count the images per bin; the dashed line is perfect "
       "calibration.</p></section>\n";
  return h;
}

std::string malignant_section_html(const Comparison& c) {
  std::string h = "<section><h2>Malignant against the rest</h2>";
  h += "<p>Read as a test for malignancy: sensitivity is the share of the malignant test images "
       "flagged, specificity the share of the others not flagged. The default decision flags an "
       "image when its calibrated malignant probability reaches a threshold chosen on the "
       "validation subset (in each fold its own) as the largest that still flags 90 % of its "
       "malignant images, then applied unchanged to the test images; the argmax decision flags "
       "it when malignant is its most probable class.</p>";
  h += "<table><thead><tr><th>Model</th><th>Decision</th><th class=\"num\">Sensitivity</th><th "
       "class=\"num\">Specificity</th><th class=\"num\">Malignant missed</th></tr></thead><tbody>";
  const char* colours[] = {kColourA, kColourB};
  int k = 0;
  std::string sentences;
  for (const RunFolder* run : {&c.a, &c.b}) {
    const std::string name = dot(colours[k++]) + esc(run->display_name);
    if (!run->calibration || !run->calibration->malignant) {
      h += "<tr><td>" + name + "</td><td colspan=\"4\" class=\"note\">No operating point: " +
           esc(malignant_missing(*run)) + ".</td></tr>";
      continue;
    }
    const OperatingPoint& p = *run->calibration->malignant;
    const Json& val = run->calibration->malignant_validation;
    const bool has_validation = val.is_object() && val.contains("sensitivity");
    h += "<tr><td>" + name + "</td><td>default: malignant probability &ge; " +
         esc(threshold_text(*run->calibration, p)) +
         (has_validation ? " <span class=\"note\">(validation: sensitivity " +
                               fmt_metric(json_number(val, "sensitivity")) + ", specificity " +
                               fmt_metric(json_number(val, "specificity")) + ")</span>"
                         : std::string()) +
         "</td>" + rates_cells(p.at_threshold) + "</tr>";
    h += "<tr><td></td><td>argmax: the most probable class</td>" + rates_cells(p.at_decision) +
         "</tr>";
    sentences += "<p>" + esc(malignant_sentence(run->display_name, p)) + "</p>";
  }
  h += "</tbody></table>" + sentences +
       "<p class=\"note\">Brackets: 95 % bootstrap intervals over the test images. The threshold "
       "comes from the few malignant images of the validation subset, so its test sensitivity "
       "can fall short of 90 %. <code>predict</code> applies it by default; "
       "<code>--malignant-threshold off</code> gives the argmax.</p></section>\n";
  return h;
}

std::string calibration_sections_markdown(const Comparison& c) {
  std::string m =
      "## Calibration (test images)\n\n| Model | T (fitted on validation) | NLL raw / calibrated "
      "| Brier raw / calibrated | ECE raw / calibrated | ECE if perfectly calibrated |\n"
      "|---|---:|---|---|---|---|\n";
  std::string notes;
  for (const RunFolder* run : {&c.a, &c.b}) {
    if (!run->calibration) {
      m += "| " + run->display_name + " | \u2014 | " + run->calibration_missing + " | | | |\n";
      continue;
    }
    const RunCalibration& cal = *run->calibration;
    m += "| " + run->display_name + " | " + fmt_temperature(cal.temperature) + " | " +
         value_ci(cal.raw.nll, cal.raw.nll_ci) + " / " +
         value_ci(cal.calibrated.nll, cal.calibrated.nll_ci) + " | " +
         value_ci(cal.raw.brier, cal.raw.brier_ci) + " / " +
         value_ci(cal.calibrated.brier, cal.calibrated.brier_ci) + " | " +
         value_ci(cal.raw.ece, cal.raw.ece_ci) + " / " +
         value_ci(cal.calibrated.ece, cal.calibrated.ece_ci) + " | " + floor_text(cal.calibrated) +
         " |\n";
    notes +=
        run->display_name + ": " + temperature_text(cal) + ". " + ece_noise_sentence(cal) + "\n\n";
  }
  m += "\nBrackets: 95 % bootstrap intervals over the test images; ECE over " +
       std::to_string(kCalibrationBins) + " equal-width confidence bins.\n\n" + notes;
  m += "## Malignant against the rest (test images)\n\n| Model | Decision | Sensitivity | "
       "Specificity | Malignant missed |\n|---|---|---|---|---|\n";
  notes.clear();
  for (const RunFolder* run : {&c.a, &c.b}) {
    if (!run->calibration || !run->calibration->malignant) {
      m += "| " + run->display_name + " | " + malignant_missing(*run) + " | | | |\n";
      continue;
    }
    const OperatingPoint& p = *run->calibration->malignant;
    const Json& val = run->calibration->malignant_validation;
    // A pooled cross-validation has one threshold per fold and no single validation figure.
    const bool has_validation = val.is_object() && val.contains("sensitivity");
    const std::string threshold_rule =
        "p(malignant) >= " + threshold_text(*run->calibration, p) +
        " (chosen on validation for 90 % sensitivity" +
        (has_validation ? "; there sensitivity " + fmt_metric(json_number(val, "sensitivity")) +
                              ", specificity " + fmt_metric(json_number(val, "specificity"))
                        : std::string()) +
        ")";
    for (const auto& [rule, r] : {std::pair{"default: " + threshold_rule, p.at_threshold},
                                  std::pair{std::string("argmax"), p.at_decision}})
      m += "| " + run->display_name + " | " + rule + " | " +
           value_ci(r.sensitivity, r.sensitivity_ci) + " | " +
           value_ci(r.specificity, r.specificity_ci) + " | " + missed(r) + " |\n";
    notes += malignant_sentence(run->display_name, p) + "\n\n";
  }
  return m + "\n" + notes;
}

Json run_calibration_json(const RunFolder& run) {
  Json j = Json::object();
  if (!run.calibration) {
    j["missing"] = run.calibration_missing;
    return j;
  }
  const RunCalibration& cal = *run.calibration;
  j["temperature"] = cal.temperature;
  j["fitted_on"] = "validation";
  j["validation_images"] = cal.validation_images;
  j["bins"] = static_cast<int64_t>(kCalibrationBins);
  j["test_raw"] = calibration_to_json(cal.raw);
  j["test_calibrated"] = calibration_to_json(cal.calibrated);
  if (cal.malignant) {
    Json p = operating_point_to_json(*cal.malignant);
    p["validation"] = cal.malignant_validation;  // from metrics.json: not recomputable here
    j["malignant"] = p;
  } else {
    j["malignant"] = cal.malignant_missing;
  }
  return j;
}

}  // namespace busi::tools
