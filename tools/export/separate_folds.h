// export_onnx --separate: a compare folder's fold models, each as a classifier of its own, so that
// each becomes its own .onnx file with its own temperature and threshold.
#pragma once

#include <vector>

#include "tools/predict/classifier.h"

namespace busi::tools {

// Fold k's model alone (k = 1..K, in the ensemble's order), described as "fold k of <source>".
std::vector<Classifier> separate_folds(const Classifier& ensemble);

}  // namespace busi::tools
