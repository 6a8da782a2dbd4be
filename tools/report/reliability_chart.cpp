// The reliability diagram (see reliability_chart.h): confidence on x, accuracy on y, both [0, 1].
#include "tools/report/reliability_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tools/report/svg_plot.h"

namespace busi::tools {

namespace {

constexpr double kLeft = 50, kRight = 14, kTop = 46, kBottom = 62;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string three(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::string fmt_temperature(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", t);
  return buf;
}

std::string render_reliability_chart(const ReliabilityChart& c) {
  const double w = c.width, h = c.height;
  const double plot_w = w - kLeft - kRight, plot_h = h - kTop - kBottom;
  auto x_of = [&](double v) { return kLeft + v * plot_w; };
  auto y_of = [&](double v) { return kTop + (1.0 - v) * plot_h; };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + num(w) +
                  "\" height=\"" + num(h) + "\" viewBox=\"0 0 " + num(w) + " " + num(h) +
                  "\" role=\"img\" aria-label=\"" + xml_escape(c.title) +
                  "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\"><title>" +
                  xml_escape(c.title) + "</title>";
  s += "<text x=\"" + num(kLeft) + "\" y=\"16\" font-weight=\"bold\">" + xml_escape(c.title) +
       "</text>";
  // Legend: the two ECEs, "calibrated, T = 1.83 (ECE 0.052)" and "raw (ECE 0.144)".
  s += "<rect x=\"" + num(kLeft) + "\" y=\"24\" width=\"12\" height=\"10\" fill=\"" + c.colour +
       "\" fill-opacity=\"0.45\" stroke=\"" + c.colour + "\"/><text x=\"" + num(kLeft + 16) +
       "\" y=\"33\">calibrated, T = " + fmt_temperature(c.temperature) + " (ECE " +
       three(c.calibrated.ece) + ")</text>";
  s += "<circle cx=\"" + num(kLeft + 226) + "\" cy=\"29\" r=\"4\" fill=\"#333\"/><text x=\"" +
       num(kLeft + 234) + "\" y=\"33\">raw (ECE " + three(c.raw.ece) + ")</text>";
  // Axes, grid and ticks at 0, 0.2, ..., 1.
  const std::vector<double> ticks = nice_ticks(0.0, 1.0, 5);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  for (const double v : ticks) {
    s += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y_of(v)) + "\" x2=\"" + num(kLeft + plot_w) +
         "\" y2=\"" + num(y_of(v)) + "\" stroke=\"#eee\"/>";
    s += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(y_of(v) + 4) + "\" text-anchor=\"end\">" +
         format_tick(v, step) + "</text>";
    s += "<text x=\"" + num(x_of(v)) + "\" y=\"" + num(kTop + plot_h + 15) +
         "\" text-anchor=\"middle\">" + format_tick(v, step) + "</text>";
  }
  s += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(plot_w) +
       "\" height=\"" + num(plot_h) + "\" fill=\"none\" stroke=\"#999\"/>";
  // Calibrated: a bar per non-empty bin, its height the bin's accuracy.
  for (const ReliabilityBin& b : c.calibrated.bins) {
    if (b.count == 0) continue;
    s += "<rect x=\"" + num(x_of(b.lower) + 0.5) + "\" y=\"" + num(y_of(b.accuracy)) +
         "\" width=\"" + num(std::max(1.0, (b.upper - b.lower) * plot_w - 1.0)) + "\" height=\"" +
         num(b.accuracy * plot_h) + "\" fill=\"" + c.colour + "\" fill-opacity=\"0.45\" stroke=\"" +
         c.colour + "\"><title>" +
         xml_escape("calibrated, confidence " + three(b.lower) + "-" + three(b.upper) + ": " +
                    std::to_string(b.count) + " images, accuracy " + three(b.accuracy) +
                    ", mean confidence " + three(b.mean_confidence)) +
         "</title></rect>";
  }
  // Images per bin, under the axis: 100 test images leave most of 15 bins nearly empty, and a
  // bin of 2 images has an accuracy of 0, 0.5 or 1 whatever the calibration.
  const double count_y[2] = {kTop + plot_h + 29, kTop + plot_h + 41};
  const char* const count_label[2] = {"calib.", "raw"};
  const std::string count_colour[2] = {c.colour, "#333"};
  for (int row = 0; row < 2; ++row) {
    s += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(count_y[row]) +
         "\" text-anchor=\"end\" font-size=\"10\" fill=\"" + count_colour[row] + "\">" +
         count_label[row] + " n</text>";
    for (const ReliabilityBin& b : row == 0 ? c.calibrated.bins : c.raw.bins)
      if (b.count > 0)
        s += "<text x=\"" + num(x_of(0.5 * (b.lower + b.upper))) + "\" y=\"" + num(count_y[row]) +
             "\" text-anchor=\"middle\" font-size=\"10\" fill=\"" + count_colour[row] + "\">" +
             std::to_string(b.count) + "</text>";
  }
  // Perfect calibration: accuracy = confidence.
  s += "<line x1=\"" + num(x_of(0)) + "\" y1=\"" + num(y_of(0)) + "\" x2=\"" + num(x_of(1)) +
       "\" y2=\"" + num(y_of(1)) + "\" stroke=\"#777\" stroke-dasharray=\"5,4\"/>";
  // Raw: a dot per non-empty bin at (mean confidence, accuracy), area proportional to its count.
  for (const ReliabilityBin& b : c.raw.bins) {
    if (b.count == 0) continue;
    s += "<circle cx=\"" + num(x_of(b.mean_confidence)) + "\" cy=\"" + num(y_of(b.accuracy)) +
         "\" r=\"" + num(1.5 + 1.2 * std::sqrt(static_cast<double>(b.count))) +
         "\" fill=\"#333\" fill-opacity=\"0.6\"><title>" +
         xml_escape("raw, confidence " + three(b.lower) + "-" + three(b.upper) + ": " +
                    std::to_string(b.count) + " images, accuracy " + three(b.accuracy) +
                    ", mean confidence " + three(b.mean_confidence)) +
         "</title></circle>";
  }
  s += "<text x=\"" + num(kLeft + plot_w / 2) + "\" y=\"" + num(h - 6) +
       "\" text-anchor=\"middle\">confidence (largest probability); n: images per bin</text>";
  s += "<text transform=\"translate(13," + num(kTop + plot_h / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">accuracy</text>";
  return s + "</svg>";
}

}  // namespace busi::tools
