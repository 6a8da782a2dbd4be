// The report's plots as inline SVG (svg_plot.h): learning curves from history.csv, confusion
// matrices, and one ROC curve per class against the rest.
#pragma once

#include <string>

#include "tools/report/comparison.h"

namespace busi::tools {

// Loss and validation macro-F1 per epoch of both runs, phase changes marked.
std::string learning_curves_html(const Comparison& c);
// Both runs' test confusion matrices as heat maps.
std::string confusion_matrices_html(const Comparison& c);
// For each class, both runs' ROC curves of that class against the rest.
std::string roc_curves_html(const Comparison& c);

}  // namespace busi::tools
