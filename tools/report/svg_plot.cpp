// SVG rendering of line charts and confusion-matrix heat maps: data are mapped linearly onto a
// plot rectangle, ticks fall on round numbers, the legend flows in rows under the chart.
#include "tools/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/common/error.h"

namespace busi::tools {

namespace {

// Chart layout in pixels: the plot rectangle sits inside these margins.
constexpr double kMarginLeft = 58, kMarginRight = 18, kMarginTop = 34, kMarginBottom = 46;
constexpr double kLegendRowHeight = 18, kLegendSwatch = 24;
constexpr double kCharWidth = 6.6;  // average width of a 12 px sans-serif character

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string text_element(double x, double y, std::string_view text, std::string_view attributes) {
  return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" " + std::string(attributes) + ">" +
         xml_escape(text) + "</text>";
}

std::string line_element(double x1, double y1, double x2, double y2, std::string_view attributes) {
  return "<line x1=\"" + fmt(x1) + "\" y1=\"" + fmt(y1) + "\" x2=\"" + fmt(x2) + "\" y2=\"" +
         fmt(y2) + "\" " + std::string(attributes) + "/>";
}

std::string svg_open(int width, double height, std::string_view title) {
  const std::string w = std::to_string(width), h = fmt(height);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + w + "\" height=\"" +
         h + "\" viewBox=\"0 0 " + w + " " + h + "\" role=\"img\" aria-label=\"" +
         xml_escape(title) + "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">" +
         "<title>" + xml_escape(title) + "</title>";
}

// The step of nice_ticks: 1, 2 or 5 times a power of ten, near (hi - lo) / target_count.
double nice_step(double lo, double hi, int target_count) {
  const double raw = (hi - lo) / std::max(1, target_count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double residual = raw / magnitude;
  // The nearest of 1, 2, 5, 10 (on a log-ish scale), so the count stays near the target.
  const double nice = residual < 1.5 ? 1.0 : residual < 3.0 ? 2.0 : residual < 7.0 ? 5.0 : 10.0;
  return nice * magnitude;
}

// Multiples of `step` inside [lo, hi] (a little slack for rounding).
std::vector<double> ticks_within(double lo, double hi, double step) {
  std::vector<double> ticks;
  const double eps = step * 1e-9;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1.0)
    ticks.push_back(std::abs(k * step) < eps ? 0.0 : k * step);
  return ticks;
}

// One axis: its data range (after padding and rounding) and its tick positions.
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> ticks;
  double fraction(double v) const { return (v - lo) / (hi - lo); }
};

Axis make_axis(double data_lo, double data_hi, std::optional<double> fixed_lo,
               std::optional<double> fixed_hi, bool integer_ticks) {
  double lo = fixed_lo.value_or(data_lo), hi = fixed_hi.value_or(data_hi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;  // no data at all
  if (hi <= lo) {  // a single value: give it some room
    const double pad = integer_ticks ? 0.5 : (lo == 0 ? 1.0 : std::abs(lo) * 0.1);
    if (!fixed_lo) lo -= pad;
    if (!fixed_hi) hi += pad;
    if (hi <= lo) hi = lo + 1;
  }
  Axis axis;
  axis.step = nice_step(lo, hi, 5);
  if (integer_ticks) axis.step = std::max(1.0, std::round(axis.step));
  // Ends not fixed are rounded out to a tick, except on integer axes (epochs), which stay tight.
  axis.lo = fixed_lo || integer_ticks ? lo : std::floor(lo / axis.step) * axis.step;
  axis.hi = fixed_hi || integer_ticks ? hi : std::ceil(hi / axis.step) * axis.step;
  axis.ticks = ticks_within(axis.lo, axis.hi, axis.step);
  return axis;
}

// Range of the finite values of one coordinate over all series.
std::pair<double, double> data_range(const std::vector<PlotSeries>& series, bool x_coordinate) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const PlotSeries& s : series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      const double v = x_coordinate ? s.x[i] : s.y[i];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return {lo, hi};
}

struct Rgb {
  double r, g, b;
};

Rgb parse_hex_colour(const std::string& hex) {
  BUSI_CHECK(hex.size() == 7 && hex[0] == '#', "svg: colour '", hex, "' is not #rrggbb");
  const auto channel = [&](size_t at) {
    return static_cast<double>(std::stoi(hex.substr(at, 2), nullptr, 16));
  };
  return {channel(1), channel(3), channel(5)};
}

// White blended towards `full` by t in [0, 1].
std::string shade(const Rgb& full, double t) {
  const auto mix = [&](double c) { return static_cast<int>(std::lround(255.0 + (c - 255.0) * t)); };
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(full.r), mix(full.g), mix(full.b));
  return buf;
}

// The legend under the chart: items flow left to right and wrap into rows.
struct LegendLayout {
  std::vector<std::pair<double, double>> positions;  // (x, y) of each item's swatch
  int rows = 0;
};

LegendLayout layout_legend(const std::vector<PlotSeries>& series, double left, double right,
                           double top) {
  LegendLayout layout;
  double x = left, y = top;
  for (const PlotSeries& s : series) {
    const double width = kLegendSwatch + 6 + kCharWidth * static_cast<double>(s.label.size()) + 16;
    if (x > left && x + width > right) {
      x = left;
      y += kLegendRowHeight;
    }
    layout.positions.push_back({x, y});
    x += width;
  }
  if (!series.empty())
    layout.rows = static_cast<int>(std::lround((y - top) / kLegendRowHeight)) + 1;
  return layout;
}

std::string stroke_attributes(const PlotSeries& s) {
  std::string a = "fill=\"none\" stroke=\"" + xml_escape(s.color) +
                  "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
  if (s.dashed) a += " stroke-dasharray=\"6 4\"";
  return a;
}

}  // namespace

// ---- Helpers ------------------------------------------------------------------------------------

std::string xml_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  if (!(hi > lo)) return {lo};
  const double step = nice_step(lo, hi, target_count);
  return ticks_within(std::floor(lo / step) * step, std::ceil(hi / step) * step, step);
}

std::string format_tick(double value, double step) {
  // Decimals needed to tell ticks `step` apart: 0 for steps >= 1, 1 for 0.2, 2 for 0.05, ...
  int decimals = 0;
  while (decimals < 8 && std::abs(step * std::pow(10.0, decimals) -
                                  std::round(step * std::pow(10.0, decimals))) > 1e-6)
    ++decimals;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// ---- Line chart ---------------------------------------------------------------------------------

std::string render_line_chart(const LineChart& chart) {
  const double left = kMarginLeft, right = chart.width - kMarginRight;
  const double top = kMarginTop, bottom = chart.height - kMarginBottom;
  const auto [x_lo, x_hi] = data_range(chart.series, true);
  const auto [y_lo, y_hi] = data_range(chart.series, false);
  const Axis x_axis = make_axis(x_lo, x_hi, chart.x_min, chart.x_max, chart.integer_x);
  const Axis y_axis = make_axis(y_lo, y_hi, chart.y_min, chart.y_max, false);
  const auto px = [&](double x) { return left + x_axis.fraction(x) * (right - left); };
  const auto py = [&](double y) {
    return bottom - std::clamp(y_axis.fraction(y), 0.0, 1.0) * (bottom - top);
  };

  const LegendLayout legend = layout_legend(chart.series, left, right, chart.height + 4.0);
  const double total_height = chart.height + legend.rows * kLegendRowHeight + 4.0;
  std::string svg = svg_open(chart.width, total_height, chart.title);
  svg += text_element(left, 18, chart.title, "font-size=\"14\" font-weight=\"600\" fill=\"#222\"");

  // Grid and ticks.
  for (const double t : y_axis.ticks) {
    svg += line_element(left, py(t), right, py(t), "stroke=\"#e4e4e4\"");
    svg += text_element(left - 6, py(t) + 4, format_tick(t, y_axis.step),
                        "text-anchor=\"end\" fill=\"#555\"");
  }
  for (const double t : x_axis.ticks) {
    svg += line_element(px(t), top, px(t), bottom, "stroke=\"#f0f0f0\"");
    svg += text_element(px(t), bottom + 16, format_tick(t, x_axis.step),
                        "text-anchor=\"middle\" fill=\"#555\"");
  }
  svg += line_element(left, bottom, right, bottom, "stroke=\"#888\"");
  svg += line_element(left, top, left, bottom, "stroke=\"#888\"");
  svg += text_element((left + right) / 2, bottom + 34, chart.x_label,
                      "text-anchor=\"middle\" fill=\"#333\"");
  const double y_mid = (top + bottom) / 2;
  svg += "<text x=\"14\" y=\"" + fmt(y_mid) + "\" transform=\"rotate(-90 14 " + fmt(y_mid) +
         ")\" text-anchor=\"middle\" fill=\"#333\">" + xml_escape(chart.y_label) + "</text>";

  if (chart.diagonal)
    svg += line_element(px(x_axis.lo), py(y_axis.lo), px(x_axis.hi), py(y_axis.hi),
                        "stroke=\"#aaa\" stroke-dasharray=\"4 4\"");
  for (const VerticalMarker& m : chart.markers) {
    const std::string colour = xml_escape(m.color);
    svg += line_element(px(m.x), top, px(m.x), bottom,
                        "stroke=\"" + colour + "\" stroke-dasharray=\"2 3\"");
    svg += text_element(px(m.x) + 4, top + 11, m.label, "font-size=\"11\" fill=\"" + colour + "\"");
  }

  // Series: a polyline per run of finite points; a dot where a point stands alone.
  for (const PlotSeries& s : chart.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    std::vector<std::pair<double, double>> run;
    const auto flush = [&] {
      if (run.size() == 1 && !s.markers)
        svg += "<circle cx=\"" + fmt(run[0].first) + "\" cy=\"" + fmt(run[0].second) +
               "\" r=\"3\" fill=\"" + xml_escape(s.color) + "\"/>";
      if (run.size() > 1) {
        svg += "<polyline " + stroke_attributes(s) + " points=\"";
        for (const auto& [x, y] : run) svg += fmt(x) + "," + fmt(y) + " ";
        svg += "\"/>";
      }
      run.clear();
    };
    for (size_t i = 0; i < n; ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        run.push_back({px(s.x[i]), py(s.y[i])});
        if (s.markers)
          svg += "<circle cx=\"" + fmt(px(s.x[i])) + "\" cy=\"" + fmt(py(s.y[i])) +
                 "\" r=\"2.5\" fill=\"" + xml_escape(s.color) + "\"/>";
      } else {
        flush();
      }
    }
    flush();
  }

  // Legend.
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const PlotSeries& s = chart.series[i];
    const auto [lx, ly] = legend.positions[i];
    svg += "<polyline " + stroke_attributes(s) + " points=\"" + fmt(lx) + "," + fmt(ly) + " " +
           fmt(lx + kLegendSwatch) + "," + fmt(ly) + "\"/>";
    svg += text_element(lx + kLegendSwatch + 6, ly + 4, s.label, "fill=\"#333\"");
  }
  return svg + "</svg>";
}

// ---- Confusion matrix ---------------------------------------------------------------------------

std::string render_confusion_matrix(const ConfusionHeatMap& heat_map) {
  const size_t k = heat_map.class_names.size();
  BUSI_CHECK(heat_map.counts.size() == k, "svg: confusion matrix has ", heat_map.counts.size(),
             " rows for ", k, " classes");
  size_t longest = 0;
  for (const auto& name : heat_map.class_names) longest = std::max(longest, name.size());
  const double cell = heat_map.cell_size;
  const double label_width = kCharWidth * static_cast<double>(longest) + 12;
  const double left = 26 + label_width, top = 34;
  const double grid = cell * static_cast<double>(k);
  const int width = static_cast<int>(left + grid + 14);
  const double height = top + grid + 46;
  const Rgb full = parse_hex_colour(heat_map.color);

  std::string svg = svg_open(width, height, heat_map.title);
  svg += text_element(left + grid / 2, 18, heat_map.title,
                      "text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\" fill=\"#222\"");
  for (size_t t = 0; t < k; ++t) {
    BUSI_CHECK(heat_map.counts[t].size() == k, "svg: confusion matrix row ", t, " has ",
               heat_map.counts[t].size(), " columns for ", k, " classes");
    int64_t row_total = 0;
    for (const int64_t c : heat_map.counts[t]) row_total += c;
    const double y = top + cell * static_cast<double>(t);
    svg += text_element(left - 8, y + cell / 2 + 4, heat_map.class_names[t],
                        "text-anchor=\"end\" fill=\"#333\"");
    for (size_t p = 0; p < k; ++p) {
      const int64_t count = heat_map.counts[t][p];
      const double fraction = row_total > 0 ? static_cast<double>(count) / row_total : 0.0;
      const double x = left + cell * static_cast<double>(p);
      svg += "<rect x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(cell) +
             "\" height=\"" + fmt(cell) + "\" fill=\"" + shade(full, fraction) +
             "\" stroke=\"#fff\" stroke-width=\"2\"/>";
      const std::string ink = fraction > 0.5 ? "#fff" : "#222";
      svg += text_element(
          x + cell / 2, y + cell / 2, std::to_string(count),
          "text-anchor=\"middle\" font-size=\"16\" font-weight=\"600\" fill=\"" + ink + "\"");
      const std::string percent =
          row_total > 0 ? std::to_string(std::lround(100.0 * fraction)) + "%" : "-";
      svg += text_element(x + cell / 2, y + cell / 2 + 16, percent,
                          "text-anchor=\"middle\" font-size=\"11\" fill=\"" + ink + "\"");
    }
  }
  for (size_t p = 0; p < k; ++p)
    svg += text_element(left + cell * (static_cast<double>(p) + 0.5), top + grid + 16,
                        heat_map.class_names[p], "text-anchor=\"middle\" fill=\"#333\"");
  svg += text_element(left + grid / 2, top + grid + 36, "predicted class",
                      "text-anchor=\"middle\" fill=\"#555\"");
  const double y_mid = top + grid / 2;
  svg += "<text x=\"14\" y=\"" + fmt(y_mid) + "\" transform=\"rotate(-90 14 " + fmt(y_mid) +
         ")\" text-anchor=\"middle\" fill=\"#555\">true class</text>";
  return svg + "</svg>";
}

}  // namespace busi::tools
