// The report's plots (see html_charts.h).
#include "tools/report/html_charts.h"

#include <utility>
#include <vector>

#include "tools/metrics/roc.h"
#include "tools/report/format.h"
#include "tools/report/html_style.h"
#include "tools/report/svg_plot.h"

namespace busi::tools {

namespace {

std::vector<VerticalMarker> phase_markers(const RunFolder& run, const char* colour) {
  std::vector<VerticalMarker> markers;
  for (size_t i = 1; i < run.history.size(); ++i)
    if (run.history[i].phase != run.history[i - 1].phase)
      markers.push_back({static_cast<double>(run.history[i].epoch) - 0.5,
                         run.display_name + ": " + run.history[i].phase, colour});
  return markers;
}

PlotSeries history_series(const RunFolder& run, double HistoryRow::*field, std::string label,
                          const char* colour, bool dashed) {
  PlotSeries s;
  s.label = std::move(label);
  s.color = colour;
  s.dashed = dashed;
  for (const HistoryRow& e : run.history) {
    s.x.push_back(static_cast<double>(e.epoch));
    s.y.push_back(e.*field);
  }
  s.markers = run.history.size() <= 12;
  return s;
}

}  // namespace

std::string learning_curves_html(const Comparison& c) {
  if (c.a.history.empty() && c.b.history.empty())
    return "<p class=\"note\">Neither history.csv has any epoch.</p>";
  LineChart loss;
  loss.title = "Loss per epoch";
  loss.x_label = "epoch";
  loss.y_label = "cross-entropy loss";
  loss.integer_x = true;
  loss.width = 520;
  loss.height = 320;
  LineChart f1 = loss;
  f1.title = "Validation macro-F1 per epoch";
  f1.y_label = "macro-F1";
  f1.y_min = 0.0;
  f1.y_max = 1.0;
  const std::pair<const RunFolder*, const char*> runs[] = {{&c.a, kColourA}, {&c.b, kColourB}};
  for (const auto& [run, colour] : runs) {
    loss.series.push_back(
        history_series(*run, &HistoryRow::train_loss, run->display_name + " train", colour, false));
    loss.series.push_back(history_series(*run, &HistoryRow::val_loss,
                                         run->display_name + " validation", colour, true));
    f1.series.push_back(
        history_series(*run, &HistoryRow::val_macro_f1, run->display_name, colour, false));
    for (const VerticalMarker& m : phase_markers(*run, colour)) {
      loss.markers.push_back(m);
      f1.markers.push_back(m);
    }
  }
  return "<div class=\"charts\">" + render_line_chart(loss) + render_line_chart(f1) + "</div>";
}

std::string confusion_matrices_html(const Comparison& c) {
  std::string h = "<div class=\"charts\">";
  const std::pair<const RunFolder*, const char*> runs[] = {{&c.a, kColourA}, {&c.b, kColourB}};
  for (const auto& [run, colour] : runs) {
    ConfusionHeatMap m;
    m.title = run->display_name;
    m.class_names = run->class_names;
    m.counts = run->metrics.confusion;
    m.color = colour;
    m.cell_size = 84;
    h += render_confusion_matrix(m);
  }
  return h +
         "</div><p class=\"note\">Rows: true class; columns: predicted class. Each cell shows "
         "its count and its share of the row (so the diagonal shows each class's recall).</p>";
}

std::string roc_curves_html(const Comparison& c) {
  std::string h = "<div class=\"charts\">";
  for (size_t k = 0; k < c.a.class_names.size(); ++k) {
    LineChart chart;
    chart.title = "ROC: " + c.a.class_names[k] + " vs rest";
    chart.x_label = "false positive rate";
    chart.y_label = "true positive rate";
    chart.x_min = chart.y_min = 0.0;
    chart.x_max = chart.y_max = 1.0;
    chart.diagonal = true;
    chart.width = 330;
    chart.height = 320;
    const std::pair<const RunFolder*, const char*> runs[] = {{&c.a, kColourA}, {&c.b, kColourB}};
    for (const auto& [run, colour] : runs) {
      std::vector<int> positive;
      std::vector<float> scores;
      for (size_t i = 0; i < run->labels.size(); ++i) {
        positive.push_back(run->labels[i] == static_cast<int64_t>(k));
        scores.push_back(run->probs[i][k]);
      }
      PlotSeries s;
      s.label = run->display_name + " (AUC " + fmt_metric(run->metrics.auc[k]) + ")";
      s.color = colour;
      for (const RocPoint& p : roc_curve(positive, scores)) {
        s.x.push_back(p.fpr);
        s.y.push_back(p.tpr);
      }
      chart.series.push_back(std::move(s));
    }
    h += render_line_chart(chart);
  }
  return h + "</div>";
}

}  // namespace busi::tools
