// The decision rule of decision.h.
#include "tools/predict/decision.h"

#include <algorithm>
#include <cstdio>

#include "kernels/common/error.h"
#include "tools/cli/command_line.h"
#include "tools/metrics/operating_point.h"

namespace busi::tools {

namespace {

std::string fixed3(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  return buffer;
}

}  // namespace

Decision decide(const DecisionRule& rule, const std::vector<double>& probs) {
  Decision d;
  d.predicted = std::max_element(probs.begin(), probs.end()) - probs.begin();
  if (!rule.malignant_threshold) return d;
  const auto m = static_cast<size_t>(rule.malignant);
  d.flagged = probs[m] >= *rule.malignant_threshold;
  if (d.flagged) {
    d.predicted = rule.malignant;
  } else if (d.predicted == rule.malignant) {  // below the threshold: the best other class
    double best = -1.0;
    for (size_t c = 0; c < probs.size(); ++c)
      if (c != m && probs[c] > best) {
        best = probs[c];
        d.predicted = static_cast<int64_t>(c);
      }
  }
  return d;
}

std::string decision_sentence(const Classifier& c, const DecisionRule& rule) {
  if (!rule.malignant_threshold) return "the most probable class (argmax), no malignant threshold";
  std::string s = "malignant when its probability is >= ";
  s += fixed3(*rule.malignant_threshold);
  if (rule.from_validation)
    s += c.ensemble ? " (the mean of the fold models' thresholds, each chosen on its fold's "
                      "validation subset for 90 % sensitivity)"
                    : " (chosen on the run's validation subset for 90 % sensitivity)";
  s += ", else the most probable other class";
  return s;
}

// The default decision is the malignant threshold the run chose on validation (issue 25: the
// argmax of a model trained on 118 malignant images missed a third to a half of them); a run
// without one (written before calibration, or without a malignant class) falls back to the argmax
// with a note, unless --malignant-threshold validation was asked for by name.
DecisionRule decision_rule(Classifier& c, const std::string& probabilities,
                           std::string threshold_flag, bool threshold_given, bool flip,
                           const RuleMessages& messages) {
  DecisionRule rule;
  rule.flip = flip;
  // The temperature and the threshold hold for the probabilities they were fitted on.
  const bool fitted_with_flip =
      std::any_of(c.members.begin(), c.members.end(),
                  [](const LoadedModel& m) { return m.calibrated_with_flip; });
  if (fitted_with_flip && !flip)
    messages.note(c.source +
                  ": its temperature and malignant threshold were fitted on image-and-mirror "
                  "probabilities (train_simple --tta flip); give --tta flip to decide as it was "
                  "validated");
  if (c.ensemble) {
    std::string line = "ensemble: ";
    line += c.source;
    line += ", their probabilities averaged";
    if (flip) line += " (each over the image and its mirror)";
    messages.info(line);
  }
  if (probabilities == "calibrated") {
    const bool all = std::all_of(c.members.begin(), c.members.end(),
                                 [](const LoadedModel& m) { return m.temperature.has_value(); });
    if (!all) {
      rule.calibrated = false;
      messages.note(c.source +
                    " has no temperature (written before calibration existed): the "
                    "probabilities are the network's own, uncalibrated");
    } else if (c.ensemble) {
      messages.info(
          "probabilities calibrated: each model's softmax(logits / T), T fitted on its "
          "fold's validation subset (--probabilities raw: the networks' own)");
    } else {
      std::string line = "probabilities calibrated: softmax(logits / ";
      line += fixed3(*c.first().temperature);
      line +=
          "), the temperature fitted on the run's validation subset (--probabilities raw: the "
          "network's own)";
      messages.info(line);
    }
  } else {
    for (LoadedModel& m : c.members) m.temperature.reset();
    rule.calibrated = false;
    messages.info("probabilities raw: the network's softmax, not calibrated");
  }
  const std::vector<std::string>& names = c.first().class_names;
  const auto found = std::find(names.begin(), names.end(), kMalignantClass);
  const bool has_malignant = found != names.end();
  if (threshold_flag == "validation" && !threshold_given &&
      (!has_malignant || !c.malignant_threshold)) {
    std::string note = c.source;
    note += has_malignant ? " holds no malignant threshold (written before calibration existed)"
                          : " has no class named malignant";
    note += ": the decision is the most probable class (argmax)";
    messages.note(note);
    threshold_flag = "off";
  }
  if (threshold_flag == "off") {
    messages.info("decision: the most probable class (argmax), no malignant threshold");
    return rule;
  }
  BUSI_CHECK(has_malignant,
             "--malignant-threshold: the checkpoint's classes have "
             "no 'malignant'");
  rule.malignant = found - names.begin();
  if (threshold_flag == "validation") {
    BUSI_CHECK(c.malignant_threshold, "--malignant-threshold validation: ", c.source,
               " holds no threshold (written before calibration existed); give a number");
    rule.malignant_threshold = c.malignant_threshold;
    rule.from_validation = true;
  } else {
    size_t used = 0;
    double value = -1.0;
    try {
      value = std::stod(threshold_flag, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != threshold_flag.size() || !(value >= 0.0 && value <= 1.0))
      throw UsageError(
          "--malignant-threshold: expected off, validation or a number in [0, 1], "
          "got '" +
          threshold_flag + "'");
    rule.malignant_threshold = value;
  }
  if (probabilities == "raw" && threshold_flag == "validation")
    messages.note(
        "the validation threshold was chosen on calibrated "
        "probabilities; with --probabilities raw it does not give 90 % sensitivity");
  messages.info("decision: " + decision_sentence(c, rule));
  return rule;
}

}  // namespace busi::tools
