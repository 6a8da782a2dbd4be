// A compare folder's fold models as classifiers of their own (see separate_folds.h).
#include "tools/export/separate_folds.h"

#include <string>

namespace busi::tools {

std::vector<Classifier> separate_folds(const Classifier& ensemble) {
  std::vector<Classifier> out;
  for (size_t k = 0; k < ensemble.members.size(); ++k) {
    Classifier c;
    c.members.push_back(ensemble.members[k]);
    c.model = ensemble.model;
    c.malignant_threshold = ensemble.members[k].malignant_threshold;
    c.source = "fold " + std::to_string(k + 1) + " of ";
    c.source += ensemble.source;
    c.source += " (" + ensemble.members[k].path + ")";
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace busi::tools
