// A reliability diagram as inline SVG: per confidence bin, the test accuracy of the images whose
// largest probability fell there, against the diagonal of perfect calibration, before and after
// temperature scaling, with the number of images in each bin (few images make most bins noisy).
#pragma once

#include <string>

#include "tools/metrics/calibration.h"

namespace busi::tools {

struct ReliabilityChart {
  std::string title;
  CalibrationScores raw, calibrated;  // their bins must be the same
  double temperature = 1.0;
  std::string colour = "#1f77b4";  // the calibrated bars; the raw points are drawn in dark grey
  int width = 460, height = 360;
};

// A self-contained <svg>: calibrated bars (accuracy per bin), raw dots (at the bin's mean
// confidence, area by count), the dashed diagonal, a legend with both ECEs, and under the axis
// the images in each bin, calibrated and raw.
std::string render_reliability_chart(const ReliabilityChart& chart);

// A temperature to three significant digits: 1.83, 20, 0.0915.
std::string fmt_temperature(double t);

}  // namespace busi::tools
