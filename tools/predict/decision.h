// How a prediction is read off a classifier's probabilities: the argmax or, with a malignant
// threshold (by default the one the run chose on validation for 90 % sensitivity), "malignant"
// whenever its probability reaches the threshold. Shared by predict and serve.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/predict/classifier.h"

namespace busi::tools {

struct DecisionRule {
  std::optional<double> malignant_threshold;
  int64_t malignant = -1;        // the class index of "malignant"
  bool flip = false;             // the mirror image averaged in (test-time augmentation)
  bool calibrated = true;        // softmax(z / T) with the members' temperatures (false: raw)
  bool from_validation = false;  // the threshold is the one the run(s) chose on validation
};

// The class of some probabilities by the rule, and whether the threshold flagged malignant.
struct Decision {
  int64_t predicted = 0;
  bool flagged = false;
};
Decision decide(const DecisionRule& rule, const std::vector<double>& probs);

// Where decision_rule's sentences go: `info` says what the probabilities and the decision are
// (predict prints them unless --csv), `note` says what differs from the default (a checkpoint
// without temperature or threshold); predict writes notes to stderr as "predict: note: ...".
struct RuleMessages {
  std::function<void(const std::string&)> info, note;
};

// The rule from predict's flags: probabilities "calibrated" or "raw" (raw drops the members'
// temperatures, in `c`), threshold_flag "off", "validation" or a number in [0, 1]. Without a
// threshold in the checkpoint the default ("validation" not given by name) falls back to the
// argmax with a note. Throws UsageError for a bad threshold, busi::Error for one the checkpoint
// cannot give.
DecisionRule decision_rule(Classifier& c, const std::string& probabilities,
                           std::string threshold_flag, bool threshold_given, bool flip,
                           const RuleMessages& messages);

// The sentence the page and predict show for the operating point: "malignant when its
// probability is >= 0.316 (chosen on the run's validation subset for 90 % sensitivity), else ..."
std::string decision_sentence(const Classifier& c, const DecisionRule& rule);

}  // namespace busi::tools
