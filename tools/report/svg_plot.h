// Inline SVG charts for the report: line charts (learning curves, ROC curves) with axes, ticks and
// a legend, and confusion-matrix heat maps with counts. Output is a self-contained <svg> element.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace busi::tools {

// One line of a chart. A NaN y leaves a gap; an isolated point is drawn as a dot.
struct PlotSeries {
  std::string label;  // shown in the legend
  std::vector<double> x, y;
  std::string color = "#1f77b4";  // any CSS colour
  bool dashed = false;
  bool markers = false;  // a dot at every point (useful when there are only a few epochs)
};

// A labelled vertical dotted line, e.g. where VGG16's fine-tuning phase begins.
struct VerticalMarker {
  double x = 0.0;
  std::string label;
  std::string color = "#777777";
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  std::vector<VerticalMarker> markers;
  // Fixed axis ranges; an unset end is taken from the data and rounded out to a tick.
  std::optional<double> x_min, x_max, y_min, y_max;
  bool integer_x = false;         // ticks only at whole numbers (epochs)
  bool diagonal = false;          // the dashed y = x line of a chance-level ROC curve
  int width = 480, height = 300;  // of the plot with its axes; the legend adds rows below
};

// The chart as an <svg> element sized width x (height + legend).
std::string render_line_chart(const LineChart& chart);

// A confusion matrix: cells shaded by the row's fraction (the recall of that true class), each
// showing its count and that fraction as a percentage.
struct ConfusionHeatMap {
  std::string title;
  std::vector<std::string> class_names;
  std::vector<std::vector<int64_t>> counts;  // [true class][predicted class]
  std::string color = "#1f77b4";             // the shade of a 100 % cell, as #rrggbb
  int cell_size = 70;
};
std::string render_confusion_matrix(const ConfusionHeatMap& heat_map);

// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about
// `target_count` of them; the first tick is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target_count = 5);
// A tick label with just enough decimals for the step between ticks (0.25 -> "0.25", 5 -> "5").
std::string format_tick(double value, double step);
// Text made safe inside XML/HTML (&, <, >, ").
std::string xml_escape(std::string_view text);

}  // namespace busi::tools
