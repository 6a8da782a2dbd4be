// ROC analysis of one binary truth (one class against the rest): the area under the curve and the
// curve's points, for the test metrics and the report's ROC plots.
#pragma once

#include <vector>

namespace busi::tools {

// Area under the ROC curve of scores for a binary truth (the Mann-Whitney statistic, ties
// counted half). NaN when either class is absent.
double roc_auc(const std::vector<int>& positive, const std::vector<float>& scores);

struct RocPoint {
  double fpr, tpr;
};
// The ROC curve's corner points, from (0,0) to (1,1), one per distinct score threshold.
std::vector<RocPoint> roc_curve(const std::vector<int>& positive, const std::vector<float>& scores);

}  // namespace busi::tools
