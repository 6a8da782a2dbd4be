// The comparison report: reading run folders, the metric table with bootstrap intervals, the
// paired McNemar test, and the three renderings (HTML with inline SVG, Markdown, JSON).
#include "tools/common/report.h"

#include <sys/utsname.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "kernels/common/error.h"
#include "tools/common/svg_plot.h"

namespace busi::tools {

namespace fs = std::filesystem;

namespace {

constexpr const char* kColourA = "#1f77b4";  // blue: the first run (SimpleCNN)
constexpr const char* kColourB = "#e6550d";  // orange: the second run (VGG16)
constexpr const char* kDash = "\u2014";      // shown where a value is missing

// ---- Number formatting --------------------------------------------------------------------------

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string fmt_metric(double v) { return std::isfinite(v) ? printf_string("%.3f", v) : kDash; }

std::string fmt_signed(double v) {
  if (!std::isfinite(v)) return kDash;
  return std::abs(v) < 5e-4 ? "0.000" : printf_string("%+.3f", v);
}

std::string fmt_interval(const Interval& ci) {
  if (!std::isfinite(ci.low) || !std::isfinite(ci.high)) return "";
  return "[" + printf_string("%.3f", ci.low) + ", " + printf_string("%.3f", ci.high) + "]";
}

std::string fmt_p_value(double p) {
  if (!std::isfinite(p)) return kDash;
  if (p < 1e-4) return "< 0.0001";
  return printf_string("%.4f", p);
}

// 14714688 -> "14,714,688"
std::string fmt_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string fmt_duration(double seconds) {
  if (!std::isfinite(seconds)) return kDash;
  if (seconds < 60) return printf_string("%.1f s", seconds);
  const auto total = static_cast<int64_t>(std::lround(seconds));
  char buf[64];
  if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  }
  return buf;
}

// "1 test image", "3 test images"
std::string count_of(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

bool excludes_zero(const Interval& ci) {
  return std::isfinite(ci.low) && std::isfinite(ci.high) && (ci.low > 0 || ci.high < 0);
}

// ---- Reading a run folder -----------------------------------------------------------------------

std::string file_in(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

std::string require_file(const std::string& dir, const std::string& name) {
  const std::string path = file_in(dir, name);
  std::error_code ec;
  BUSI_CHECK(fs::is_regular_file(path, ec), path, ": missing (is this a trainer run folder?)");
  return path;
}

std::string display_name_of(const std::string& model, const std::string& dir) {
  if (model == "simple_cnn") return "SimpleCNN";
  if (model == "vgg16") return "VGG16";
  if (!model.empty()) return model;
  return fs::path(dir).lexically_normal().filename().string();
}

// A class given as its index ("1") or its name ("malignant"); -1 when it is neither.
int64_t class_index_of(const std::string& text, const std::vector<std::string>& class_names) {
  for (size_t k = 0; k < class_names.size(); ++k)
    if (text == class_names[k]) return static_cast<int64_t>(k);
  int64_t index = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  const bool whole = ec == std::errc() && end == text.data() + text.size();
  return whole && index >= 0 && index < static_cast<int64_t>(class_names.size()) ? index : -1;
}

// predictions.csv: path,label,pred,prob_<class>... (the class names come from the prob_ columns;
// label and pred may be class indices or class names).
void read_predictions(const std::string& path, RunFolder& run) {
  const CsvTable table = read_csv(path);
  const size_t path_column = table.require_column("path");
  const size_t label_column = table.require_column("label");
  const int pred_column = table.column_index("pred");
  std::vector<size_t> prob_columns;
  for (size_t i = 0; i < table.header.size(); ++i)
    if (table.header[i].rfind("prob_", 0) == 0) {
      prob_columns.push_back(i);
      run.class_names.push_back(table.header[i].substr(5));
    }
  BUSI_CHECK(prob_columns.size() >= 2, path,
             ": expected prob_<class> columns for 2 or more classes");
  BUSI_CHECK(!table.rows.empty(), path, ": no test images (the file has only its header)");
  const size_t k = prob_columns.size();
  int64_t pred_disagreements = 0;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    run.paths.push_back(table.rows[r][path_column]);
    const std::string& label_text = table.rows[r][label_column];
    const int64_t label = class_index_of(label_text, run.class_names);
    BUSI_CHECK(label >= 0, path, ": row ", r + 1, ": label '", label_text,
               "' is neither a class index in [0, ", k, ") nor a class name");
    run.labels.push_back(label);
    std::vector<float> p;
    for (const size_t c : prob_columns) p.push_back(static_cast<float>(table.number(r, c)));
    run.probs.push_back(std::move(p));
    if (pred_column >= 0)
      pred_disagreements +=
          class_index_of(table.rows[r][static_cast<size_t>(pred_column)], run.class_names) !=
          argmax_predictions({run.probs.back()})[0];
  }
  run.preds = argmax_predictions(run.probs);
  if (pred_disagreements > 0)
    run.warnings.push_back(
        path + ": the pred column differs from the argmax of the probabilities on " +
        std::to_string(pred_disagreements) + " rows; the report uses the argmax");
}

// Cross-checks metrics.json against the metrics recomputed from predictions.csv.
void check_summary(RunFolder& run, const std::string& path) {
  const Json* test = run.summary.find("test");
  const Json* accuracy = test ? test->find("accuracy") : nullptr;
  if (accuracy && accuracy->is_number() &&
      std::abs(accuracy->as_number() - run.metrics.accuracy) > 1e-6)
    run.warnings.push_back(path + ": test accuracy " + fmt_metric(accuracy->as_number()) +
                           " differs from " + fmt_metric(run.metrics.accuracy) +
                           " recomputed from predictions.csv");
  const Json* images = run.summary.find("test_images");
  if (images && images->is_number() && images->as_number() != static_cast<double>(run.paths.size()))
    run.warnings.push_back(path + ": test_images = " + images->to_display_string() + " but " +
                           "predictions.csv has " + std::to_string(run.paths.size()) + " rows");
}

}  // namespace

RunFolder load_run_folder(const std::string& dir, int bootstrap_rounds, uint64_t bootstrap_seed) {
  std::error_code ec;
  BUSI_CHECK(fs::exists(dir, ec), dir, ": no such folder");
  BUSI_CHECK(fs::is_directory(dir, ec), dir, ": not a folder (expected a trainer run folder)");
  RunFolder run;
  run.dir = dir;
  const std::string predictions = require_file(dir, "predictions.csv");
  const std::string config = require_file(dir, "config.json");
  const std::string summary = require_file(dir, "metrics.json");
  const std::string history = require_file(dir, "history.csv");

  run.config = read_json_file(config);
  BUSI_CHECK(run.config.is_object(), config, ": expected a JSON object");
  run.summary = read_json_file(summary);
  BUSI_CHECK(run.summary.is_object(), summary, ": expected a JSON object");
  const Json* model = run.config.find("model");
  run.model = model && model->is_string() ? model->as_string() : "";
  run.display_name = display_name_of(run.model, dir);
  run.history = read_history(history);
  read_predictions(predictions, run);
  if (fs::is_regular_file(file_in(dir, "split.csv"), ec))
    run.split = read_csv(file_in(dir, "split.csv"));

  run.metrics =
      compute_metrics(run.labels, run.probs, run.class_names, bootstrap_rounds, bootstrap_seed);
  check_summary(run, summary);
  return run;
}

// ---- Comparing two runs -------------------------------------------------------------------------

namespace {

MetricRow metric_row(std::string key, std::string label, int class_index = -1) {
  MetricRow row;
  row.key = std::move(key);
  row.label = std::move(label);
  row.class_index = class_index;
  return row;
}

// The table's metrics, in row order; metric_values() returns them in the same order.
std::vector<MetricRow> metric_row_templates(const std::vector<std::string>& class_names) {
  std::vector<MetricRow> rows = {
      metric_row("accuracy", "Accuracy"), metric_row("balanced_accuracy", "Balanced accuracy"),
      metric_row("macro_f1", "Macro-F1"), metric_row("macro_auc", "Macro ROC-AUC")};
  for (size_t c = 0; c < class_names.size(); ++c) {
    const int k = static_cast<int>(c);
    rows.push_back(metric_row(class_names[c] + ".precision", "Precision", k));
    rows.push_back(metric_row(class_names[c] + ".recall", "Recall", k));
    rows.push_back(metric_row(class_names[c] + ".f1", "F1", k));
    rows.push_back(metric_row(class_names[c] + ".auc", "ROC-AUC (one-vs-rest)", k));
  }
  return rows;
}

std::vector<double> metric_values(const ClassificationMetrics& m) {
  std::vector<double> v = {m.accuracy, m.balanced_accuracy, m.macro_f1, m.macro_auc};
  for (size_t c = 0; c < m.class_names.size(); ++c) {
    v.push_back(m.precision[c]);
    v.push_back(m.recall[c]);
    v.push_back(m.f1[c]);
    v.push_back(m.auc[c]);
  }
  return v;
}

// The metrics of a subset (or resample) of a run's test rows, without intervals.
std::vector<double> metric_values_of_rows(const RunFolder& run, const std::vector<int64_t>& rows) {
  std::vector<int64_t> labels;
  std::vector<std::vector<float>> probs;
  for (const int64_t r : rows) {
    labels.push_back(run.labels[static_cast<size_t>(r)]);
    probs.push_back(run.probs[static_cast<size_t>(r)]);
  }
  return metric_values(compute_metrics(labels, probs, run.class_names, 0));
}

std::vector<double> difference(const std::vector<double>& b, const std::vector<double>& a) {
  std::vector<double> d;
  for (size_t i = 0; i < a.size(); ++i) d.push_back(b[i] - a[i]);
  return d;
}

std::string interpret_mcnemar(const PairedComparison& p, const std::string& name_a,
                              const std::string& name_b) {
  if (p.paired == 0)
    return "McNemar's test needs both models' predictions on the same images; these runs share "
           "no test image.";
  const int64_t b = p.mcnemar.a_right_b_wrong, c = p.mcnemar.a_wrong_b_right;
  if (b + c == 0)
    return "The two models are right and wrong on exactly the same " + std::to_string(p.paired) +
           " images: no evidence that either makes fewer errors.";
  const bool a_better = b > c;
  const std::string& better = a_better ? name_a : name_b;
  const std::string& worse = a_better ? name_b : name_a;
  const int64_t more = std::max(b, c), fewer = std::min(b, c);
  if (p.mcnemar.p_value < 0.05)
    return better + " is right on " + std::to_string(more) + " images where " + worse +
           " is wrong, against " + std::to_string(fewer) +
           " the other way round: the difference in error rates is statistically significant "
           "at the 5 % level (exact p = " +
           fmt_p_value(p.mcnemar.p_value) + ").";
  return "The models disagree on " + std::to_string(b + c) + " of " + std::to_string(p.paired) +
         " images (" + name_a + " right on " + std::to_string(b) + ", " + name_b + " right on " +
         std::to_string(c) + "); with p = " + fmt_p_value(p.mcnemar.p_value) +
         " this is no significant evidence that one makes fewer errors than the other.";
}

// Test rows of A and B showing the same image (matched by path, labels agreeing).
struct Pairing {
  std::vector<int64_t> rows_a, rows_b;
  int64_t label_conflicts = 0;  // same path, different labels: left out
};

Pairing pair_by_path(const RunFolder& a, const RunFolder& b) {
  std::map<std::string, size_t> row_in_b;
  for (size_t i = 0; i < b.paths.size(); ++i) row_in_b[b.paths[i]] = i;
  Pairing pairing;
  for (size_t i = 0; i < a.paths.size(); ++i) {
    const auto it = row_in_b.find(a.paths[i]);
    if (it == row_in_b.end()) continue;
    if (a.labels[i] != b.labels[it->second]) {
      ++pairing.label_conflicts;
      continue;
    }
    pairing.rows_a.push_back(static_cast<int64_t>(i));
    pairing.rows_b.push_back(static_cast<int64_t>(it->second));
  }
  return pairing;
}

// The 2 x 2 table of right/wrong on the paired images, and McNemar's test on it.
PairedComparison paired_test(const RunFolder& a, const RunFolder& b, const Pairing& pairing) {
  PairedComparison p;
  p.paired = static_cast<int64_t>(pairing.rows_a.size());
  p.only_in_a = static_cast<int64_t>(a.paths.size()) - p.paired - pairing.label_conflicts;
  p.only_in_b = static_cast<int64_t>(b.paths.size()) - p.paired - pairing.label_conflicts;
  std::vector<int64_t> labels, pred_a, pred_b;
  for (size_t i = 0; i < pairing.rows_a.size(); ++i) {
    const int64_t label = a.labels[static_cast<size_t>(pairing.rows_a[i])];
    const bool a_right = a.preds[static_cast<size_t>(pairing.rows_a[i])] == label;
    const bool b_right = b.preds[static_cast<size_t>(pairing.rows_b[i])] == label;
    labels.push_back(label);
    pred_a.push_back(a.preds[static_cast<size_t>(pairing.rows_a[i])]);
    pred_b.push_back(b.preds[static_cast<size_t>(pairing.rows_b[i])]);
    p.both_right += a_right && b_right;
    p.both_wrong += !a_right && !b_right;
  }
  p.mcnemar = mcnemar(labels, pred_a, pred_b);
  p.interpretation = interpret_mcnemar(p, a.display_name, b.display_name);
  return p;
}

std::vector<std::string> pairing_warnings(const RunFolder& a, const RunFolder& b,
                                          const Pairing& pairing, const PairedComparison& p) {
  std::vector<std::string> warnings;
  if (pairing.label_conflicts > 0)
    warnings.push_back(std::to_string(pairing.label_conflicts) +
                       " test images have different labels in the two runs; left out of the "
                       "paired comparison");
  if (p.only_in_a > 0 || p.only_in_b > 0)
    warnings.push_back("The runs' test sets differ (" + std::to_string(p.only_in_a) +
                       " images only in " + a.display_name + ", " + std::to_string(p.only_in_b) +
                       " only in " + b.display_name + "); differences and McNemar's test use the " +
                       std::to_string(p.paired) + " shared images");
  if (a.split && b.split && a.split->rows != b.split->rows)
    warnings.push_back("split.csv differs between the two run folders");
  return warnings;
}

// The side-by-side table: each model's values and intervals over its own test rows; the
// difference B - A and its interval by a paired bootstrap over the shared images (one resample
// picks the same images for both models, so the interval accounts for their correlation).
std::vector<MetricRow> metric_table(const RunFolder& a, const RunFolder& b, const Pairing& pairing,
                                    const ReportOptions& options) {
  const auto intervals_of = [&](const RunFolder& run) {
    return bootstrap_intervals(
        static_cast<int64_t>(run.paths.size()), options.bootstrap_rounds, options.bootstrap_seed,
        [&](const std::vector<int64_t>& idx) { return metric_values_of_rows(run, idx); });
  };
  const auto paired_difference = [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> sample_a, sample_b;
    for (const int64_t i : idx) {
      sample_a.push_back(pairing.rows_a[static_cast<size_t>(i)]);
      sample_b.push_back(pairing.rows_b[static_cast<size_t>(i)]);
    }
    return difference(metric_values_of_rows(b, sample_b), metric_values_of_rows(a, sample_a));
  };

  std::vector<MetricRow> rows = metric_row_templates(a.class_names);
  const std::vector<double> values_a = metric_values(a.metrics);
  const std::vector<double> values_b = metric_values(b.metrics);
  const std::vector<Interval> cis_a = intervals_of(a), cis_b = intervals_of(b);
  const auto n_paired = static_cast<int64_t>(pairing.rows_a.size());
  std::vector<double> diffs(rows.size(), std::nan(""));
  std::vector<Interval> diff_cis;
  if (n_paired > 0) {
    std::vector<int64_t> all(static_cast<size_t>(n_paired));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    diffs = paired_difference(all);
    diff_cis = bootstrap_intervals(n_paired, options.bootstrap_rounds, options.bootstrap_seed,
                                   paired_difference);
  }
  const Interval none{std::nan(""), std::nan("")};  // no bootstrap asked for, or no pairs
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].a = values_a[i];
    rows[i].b = values_b[i];
    rows[i].difference = diffs[i];
    rows[i].a_ci = i < cis_a.size() ? cis_a[i] : none;
    rows[i].b_ci = i < cis_b.size() ? cis_b[i] : none;
    rows[i].difference_ci = i < diff_cis.size() ? diff_cis[i] : none;
  }
  return rows;
}

// The first of several keys found in config.json, then in metrics.json, as display text.
std::string run_fact(const RunFolder& run, std::initializer_list<const char*> keys) {
  for (const Json* doc : {&run.config, &run.summary})
    for (const char* key : keys)
      if (const Json* v = doc->find(key); v && !v->is_null()) return v->to_display_string();
  return "";
}

// How many of the conv layers had ImageNet weights (loaded, total), when config.json says.
std::optional<std::pair<int64_t, int64_t>> imagenet_layers(const RunFolder& run) {
  const Json* loaded = run.config.find("imagenet_layers_loaded");
  const Json* total = run.config.find("imagenet_layers_total");
  if (!loaded || !total || !loaded->is_number() || !total->is_number()) return std::nullopt;
  return std::pair{loaded->as_int(), total->as_int()};
}

// A few words for a run's initialisation, to tell apart two runs of one model in the report's
// headings: "random init", "ImageNet 5/13"; "" when config.json does not say.
std::string short_initialisation(const RunFolder& run) {
  if (const auto layers = imagenet_layers(run))
    return layers->first == 0
               ? "random init"
               : "ImageNet " + std::to_string(layers->first) + "/" + std::to_string(layers->second);
  return run_fact(run, {"init"}) == "random" ? "random init" : "";
}

}  // namespace

Comparison compare_runs(RunFolder a, RunFolder b, const ReportOptions& options) {
  BUSI_CHECK(a.class_names == b.class_names, a.dir, " and ", b.dir,
             ": predictions.csv files have different class columns; cannot compare");
  if (a.display_name == b.display_name) {  // two runs of one model: tell them apart
    const std::string init_a = short_initialisation(a), init_b = short_initialisation(b);
    const bool by_init = !init_a.empty() && !init_b.empty() && init_a != init_b;
    a.display_name += by_init ? " (" + init_a + ")" : " (A)";
    b.display_name += by_init ? " (" + init_b + ")" : " (B)";
  }
  Comparison c;
  c.options = options;
  c.environment = current_environment();
  const Pairing pairing = pair_by_path(a, b);
  c.paired = paired_test(a, b, pairing);
  c.rows = metric_table(a, b, pairing, options);
  for (const auto* list : {&a.warnings, &b.warnings})
    c.warnings.insert(c.warnings.end(), list->begin(), list->end());
  for (const std::string& w : pairing_warnings(a, b, pairing, c.paired)) c.warnings.push_back(w);
  c.a = std::move(a);
  c.b = std::move(b);
  return c;
}

Comparison build_comparison(const std::string& dir_a, const std::string& dir_b,
                            const ReportOptions& options) {
  return compare_runs(load_run_folder(dir_a, options.bootstrap_rounds, options.bootstrap_seed),
                      load_run_folder(dir_b, options.bootstrap_rounds, options.bootstrap_seed),
                      options);
}

// ---- Facts about runs and machine ---------------------------------------------------------------

namespace {

double summary_number(const RunFolder& run, const char* key) {
  const Json* v = run.summary.find(key);
  return v && v->is_number() ? v->as_number() : std::nan("");
}

std::string fmt_parameters(double n) {
  if (!std::isfinite(n)) return kDash;
  return fmt_count(static_cast<int64_t>(n)) + " (" + printf_string("%.2f", n / 1e6) + " M)";
}

// "12 (head 2, finetune 10)" for a run with phases.
std::string describe_epochs(const RunFolder& run) {
  std::vector<std::pair<std::string, int>> phases;
  for (const HistoryRow& e : run.history) {
    if (phases.empty() || phases.back().first != e.phase) phases.push_back({e.phase, 0});
    ++phases.back().second;
  }
  std::string text = std::to_string(run.history.size());
  if (phases.size() > 1) {
    text += " (";
    for (size_t i = 0; i < phases.size(); ++i)
      text += (i ? ", " : "") + phases[i].first + " " + std::to_string(phases[i].second);
    text += ")";
  }
  return text;
}

std::string read_cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

std::string describe_initialisation(const RunFolder& run) {
  const std::string init = run_fact(run, {"init"});
  if (const auto layers = imagenet_layers(run)) {
    if (layers->first == 0) return "random (no ImageNet weights loaded)";
    return "ImageNet weights: " + std::to_string(layers->first) + " of " +
           std::to_string(layers->second) + " conv layers";
  }
  if (init == "random") return "random (no ImageNet weights)";
  if (run.model == "simple_cnn") return "trained from scratch (random initialisation)";
  if (run.model == "vgg16") return "ImageNet weights: not recorded in config.json";
  return init.empty() ? std::string(kDash) : init;
}

ReportEnvironment current_environment() {
  ReportEnvironment env;
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", &local);
  env.generated_at = date;
#if defined(__clang__)
  env.compiler = std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  env.compiler = std::string("GCC ") + __VERSION__;
#else
  env.compiler = "unknown compiler";
#endif
  env.host =
      read_cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads";
  utsname system{};
  if (uname(&system) == 0)
    env.host += ", " + std::string(system.sysname) + " " + std::string(system.release);
  return env;
}

// ---- HTML ---------------------------------------------------------------------------------------

namespace {

const char* kStyle = R"css(
:root { --a: #1f77b4; --b: #e6550d; --ink: #1d232a; --muted: #68717c; --line: #e2e5e9; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: var(--ink);
       font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 40px; }
header h1 { font-size: 25px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { color: var(--muted); margin: 0; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
          padding: 18px 22px; margin: 18px 0; }
section.warnings { background: #fff8e1; border-color: #efd58a; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 16px 0 6px; color: #3a434d; }
p { margin: 6px 0; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: baseline; }
thead th { background: #f7f8fa; font-weight: 600; color: #3a434d; border-bottom: 2px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group td { background: #f3f5f8; font-weight: 600; padding-top: 7px; }
tr.differs td { background: #fff9e6; }
table.settings { table-layout: fixed; }
table.settings th:nth-child(1) { width: 28%; }
table.settings th:nth-child(2), table.settings th:nth-child(3) { width: 36%; }
td.value { overflow-wrap: anywhere; }
.ci { color: var(--muted); font-size: 12px; margin-left: 6px; }
.sig { font-weight: 700; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { border: 1px solid var(--line); border-top: 4px solid var(--a); border-radius: 8px;
        padding: 12px 16px; }
.card.b { border-top-color: var(--b); }
.card h3 { margin: 0 0 2px; font-size: 16px; color: var(--ink); }
.card .init { color: var(--muted); margin: 0 0 8px; }
.big { font-size: 28px; font-weight: 700; font-variant-numeric: tabular-nums; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 14px; margin-top: 6px; }
.kv span:nth-child(odd) { color: var(--muted); }
.headline { margin-top: 14px; font-size: 15px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 26px; align-items: flex-start; }
svg.chart { max-width: 100%; height: auto; }
table.facts { width: auto; min-width: 62%; }
table.facts td:first-child { padding-right: 36px; }
table.mcnemar { width: auto; margin: 6px 0 10px; }
table.mcnemar td, table.mcnemar th { padding: 5px 18px; }
code { font: 12.5px ui-monospace, Menlo, Consolas, monospace; background: #f1f3f5;
       padding: 1px 4px; border-radius: 4px; }
.note { color: var(--muted); font-size: 12.5px; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 8px; }
)css";

std::string esc(std::string_view s) { return xml_escape(s); }

std::string dot(const char* colour) {
  return std::string("<span class=\"dot\" style=\"background:") + colour + "\"></span>";
}

std::string cell_with_ci(double value, const Interval& ci, bool bold) {
  std::string v = fmt_metric(value);
  if (bold) v = "<b>" + v + "</b>";
  const std::string interval = fmt_interval(ci);
  return "<td class=\"num\">" + v +
         (interval.empty() ? "" : "<span class=\"ci\">" + interval + "</span>") + "</td>";
}

std::string metric_table_html(const Comparison& c) {
  std::string h = "<table><thead><tr><th>Metric</th><th class=\"num\">" + dot(kColourA) +
                  esc(c.a.display_name) + "</th><th class=\"num\">" + dot(kColourB) +
                  esc(c.b.display_name) + "</th><th class=\"num\">Difference (" +
                  esc(c.b.display_name) + " \u2212 " + esc(c.a.display_name) +
                  ")</th></tr></thead><tbody>";
  int group = -2;
  for (const MetricRow& row : c.rows) {
    if (row.class_index != group) {
      group = row.class_index;
      std::string title = "All classes";
      if (group >= 0) {
        const auto k = static_cast<size_t>(group);
        title = "Class \u201c" + c.a.class_names[k] + "\u201d \u2014 " +
                count_of(c.a.metrics.support[k], "test image");
        if (c.b.metrics.support[k] != c.a.metrics.support[k])
          title += " (" + std::to_string(c.b.metrics.support[k]) + " in " + c.b.display_name + ")";
      }
      h += "<tr class=\"group\"><td colspan=\"4\">" + esc(title) + "</td></tr>";
    }
    const bool a_better = row.a > row.b, b_better = row.b > row.a;
    const bool significant = excludes_zero(row.difference_ci);
    const std::string diff = fmt_signed(row.difference);
    const std::string diff_ci = fmt_interval(row.difference_ci);
    h += "<tr><td>" + esc(row.label) + "</td>" + cell_with_ci(row.a, row.a_ci, a_better) +
         cell_with_ci(row.b, row.b_ci, b_better) + "<td class=\"num" + (significant ? " sig" : "") +
         "\">" + diff + (diff_ci.empty() ? "" : "<span class=\"ci\">" + diff_ci + "</span>") +
         "</td></tr>";
  }
  return h + "</tbody></table>";
}

// Facts shown side by side: (name, (value for A, value for B)).
using FactRows = std::vector<std::pair<std::string, std::pair<std::string, std::string>>>;

std::string two_column_table(const Comparison& c, const FactRows& rows, bool numeric) {
  const std::string cls = numeric ? " class=\"num\"" : "";
  std::string h = "<table class=\"facts\"><thead><tr><th></th><th" + cls + ">" + dot(kColourA) +
                  esc(c.a.display_name) + "</th><th" + cls + ">" + dot(kColourB) +
                  esc(c.b.display_name) + "</th></tr></thead><tbody>";
  for (const auto& [name, values] : rows) {
    if (values.first == kDash && values.second == kDash) continue;  // a fact neither run records
    h += "<tr><td>" + esc(name) + "</td><td" + cls + ">" + esc(values.first) + "</td><td" + cls +
         ">" + esc(values.second) + "</td></tr>";
  }
  return h + "</tbody></table>";
}

// "12 (validation macro-F1 0.812)", from metrics.json.
std::string describe_best_epoch(const RunFolder& run) {
  const double epoch = summary_number(run, "best_epoch");
  if (!std::isfinite(epoch)) return kDash;
  const double f1 = summary_number(run, "best_val_macro_f1");
  return std::to_string(static_cast<int64_t>(epoch)) +
         (std::isfinite(f1) ? " (validation macro-F1 " + fmt_metric(f1) + ")" : "");
}

FactRows model_facts(const Comparison& c) {
  const auto both = [&](auto fn) { return std::make_pair(fn(c.a), fn(c.b)); };
  const auto or_dash = [](std::string s) { return s.empty() ? std::string(kDash) : s; };
  return {
      {"Initialisation", both([](const RunFolder& r) { return describe_initialisation(r); })},
      {"Parameters (total)",
       both([](const RunFolder& r) { return fmt_parameters(summary_number(r, "parameters")); })},
      {"Parameters (trainable)", both([](const RunFolder& r) {
         return fmt_parameters(summary_number(r, "trainable_parameters"));
       })},
      {"Preset", both([&](const RunFolder& r) { return or_dash(run_fact(r, {"preset"})); })},
      {"Epochs run", both([](const RunFolder& r) { return describe_epochs(r); })},
      {"Best epoch (tested checkpoint)",
       both([](const RunFolder& r) { return describe_best_epoch(r); })},
      {"Training time", both([](const RunFolder& r) {
         return fmt_duration(summary_number(r, "training_seconds"));
       })},
      {"Training throughput, mean of epochs (img/s)", both([](const RunFolder& r) {
         const double x = summary_number(r, "mean_img_per_s");
         return std::isfinite(x) ? printf_string("%.1f", x) : std::string(kDash);
       })},
      {"Overall throughput (img/s, validation and feature caching included)",
       both([](const RunFolder& r) {
         const double x = summary_number(r, "overall_img_per_s");
         return std::isfinite(x) ? printf_string("%.1f", x) : std::string(kDash);
       })},
      {"Test images",
       both([](const RunFolder& r) { return fmt_count(static_cast<int64_t>(r.paths.size())); })},
      {"Device", both([&](const RunFolder& r) { return or_dash(run_fact(r, {"device"})); })},
  };
}

FactRows environment_facts(const Comparison& c) {
  const auto fact = [&](std::initializer_list<const char*> keys) {
    const auto get = [&](const RunFolder& r) {
      const std::string v = run_fact(r, keys);
      return v.empty() ? std::string(kDash) : v;
    };
    return std::make_pair(get(c.a), get(c.b));
  };
  return {
      {"Device", fact({"device"})},
      {"GPU", fact({"gpu_name", "gpu", "device_name"})},
      {"Engine git commit", fact({"git_commit", "commit"})},
      {"Compiler", fact({"compiler"})},
      {"CUDA / cuDNN", fact({"cuda_version", "cudnn_version", "cuda"})},
      {"Run started", fact({"created", "started_at", "date", "start_time", "timestamp"})},
      {"Host", fact({"host", "hostname", "cpu"})},
      {"Run folder", {c.a.dir, c.b.dir}},
  };
}

// config.json as (key, text) pairs; nested objects become dotted keys ("architecture.width").
void flatten_settings(const Json& value, const std::string& prefix,
                      std::vector<std::pair<std::string, std::string>>& out) {
  if (!value.is_object() || value.size() == 0) {
    out.emplace_back(prefix, value.to_display_string());
    return;
  }
  for (const auto& [key, child] : value.items())
    flatten_settings(child, prefix.empty() ? key : prefix + "." + key, out);
}

struct SettingRow {
  std::string key, a, b;  // kDash where a run has no such setting
};

// The union of both runs' settings, in the first run's order, then the second's extra keys.
std::vector<SettingRow> setting_rows(const Comparison& c) {
  std::vector<std::pair<std::string, std::string>> flat_a, flat_b;
  flatten_settings(c.a.config, "", flat_a);
  flatten_settings(c.b.config, "", flat_b);
  const auto lookup = [](const auto& flat, const std::string& key) {
    for (const auto& [k, v] : flat)
      if (k == key) return v;
    return std::string(kDash);
  };
  std::vector<SettingRow> rows;
  for (const auto* flat : {&flat_a, &flat_b})
    for (const auto& [key, text] : *flat) {
      const bool seen =
          std::any_of(rows.begin(), rows.end(), [&](const SettingRow& r) { return r.key == key; });
      if (!seen) rows.push_back({key, lookup(flat_a, key), lookup(flat_b, key)});
    }
  return rows;
}

// Settings of both runs side by side; rows whose values differ are shaded.
std::string settings_table_html(const Comparison& c) {
  std::string h = "<table class=\"settings\"><thead><tr><th>Setting (config.json)</th><th>" +
                  dot(kColourA) + esc(c.a.display_name) + "</th><th>" + dot(kColourB) +
                  esc(c.b.display_name) + "</th></tr></thead><tbody>";
  for (const SettingRow& row : setting_rows(c))
    h += std::string("<tr") + (row.a != row.b ? " class=\"differs\"" : "") + "><td><code>" +
         esc(row.key) + "</code></td><td class=\"value\">" + esc(row.a) +
         "</td><td class=\"value\">" + esc(row.b) + "</td></tr>";
  return h + "</tbody></table><p class=\"note\">Shaded rows differ between the two runs.</p>";
}

// Images per class and subset, from split.csv.
std::string split_table_html(const RunFolder& run, const std::vector<std::string>& class_names) {
  if (!run.split) return "<p class=\"note\">No split.csv in " + esc(run.dir) + ".</p>";
  const CsvTable& split = *run.split;
  const int cls = split.column_index("class"), subset = split.column_index("subset");
  if (cls < 0 || subset < 0) return "<p class=\"note\">split.csv lacks class/subset columns.</p>";
  const std::vector<std::string> subsets = {"train", "val", "test"};
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  std::vector<std::string> classes = class_names;
  for (const auto& row : split.rows) {
    const std::string& name = row[static_cast<size_t>(cls)];
    ++counts[{name, row[static_cast<size_t>(subset)]}];
    if (std::find(classes.begin(), classes.end(), name) == classes.end()) classes.push_back(name);
  }
  std::string h = "<table style=\"width:auto\"><thead><tr><th>Class</th>";
  for (const auto& s : subsets) h += "<th class=\"num\">" + s + "</th>";
  h += "<th class=\"num\">total</th></tr></thead><tbody>";
  std::map<std::string, int64_t> column_totals;
  for (const std::string& name : classes) {
    int64_t total = 0;
    h += "<tr><td>" + esc(name) + "</td>";
    for (const auto& s : subsets) {
      const int64_t n = counts[{name, s}];
      total += n;
      column_totals[s] += n;
      h += "<td class=\"num\">" + std::to_string(n) + "</td>";
    }
    h += "<td class=\"num\">" + std::to_string(total) + "</td></tr>";
  }
  h += "<tr class=\"group\"><td>all</td>";
  int64_t grand = 0;
  for (const auto& s : subsets) {
    grand += column_totals[s];
    h += "<td class=\"num\">" + std::to_string(column_totals[s]) + "</td>";
  }
  return h + "<td class=\"num\">" + std::to_string(grand) + "</td></tr></tbody></table>";
}

std::string summary_card(const RunFolder& run, double f1_value, const Interval& f1_ci,
                         const std::vector<MetricRow>& rows, bool is_b) {
  const auto value_of = [&](const std::string& key) {
    for (const MetricRow& r : rows)
      if (r.key == key) return is_b ? r.b : r.a;
    return std::nan("");
  };
  return std::string("<div class=\"card") + (is_b ? " b" : "") + "\"><h3>" + esc(run.display_name) +
         "</h3><p class=\"init\">" + esc(describe_initialisation(run)) +
         "</p><div><span class=\"big\">" + fmt_metric(f1_value) +
         "</span> <span class=\"ci\">macro-F1 " + fmt_interval(f1_ci) +
         "</span></div><div class=\"kv\"><span>accuracy</span><span>" +
         fmt_metric(value_of("accuracy")) + "</span><span>balanced accuracy</span><span>" +
         fmt_metric(value_of("balanced_accuracy")) + "</span><span>macro ROC-AUC</span><span>" +
         fmt_metric(value_of("macro_auc")) + "</span><span>parameters</span><span>" +
         fmt_parameters(summary_number(run, "parameters")) +
         "</span><span>training time</span><span>" +
         fmt_duration(summary_number(run, "training_seconds")) + "</span></div></div>";
}

const MetricRow& row_named(const Comparison& c, const std::string& key) {
  for (const MetricRow& r : c.rows)
    if (r.key == key) return r;
  throw Error("report: no metric row '" + key + "'");
}

std::string headline(const Comparison& c) {
  const MetricRow& f1 = row_named(c, "macro_f1");
  if (!std::isfinite(f1.difference)) return "";
  const bool b_higher = f1.difference > 0;
  const std::string& higher = b_higher ? c.b.display_name : c.a.display_name;
  const std::string& lower = b_higher ? c.a.display_name : c.b.display_name;
  std::string s = higher + " has the higher test macro-F1 (" + fmt_signed(std::abs(f1.difference)) +
                  " over " + lower;
  const std::string ci = fmt_interval(f1.difference_ci);
  if (!ci.empty())
    s += "; 95 % CI of " + c.b.display_name + " \u2212 " + c.a.display_name + ": " + ci;
  s += excludes_zero(f1.difference_ci) ? ", which excludes 0)." : ", which includes 0).";
  return s;
}

// ---- Charts -------------------------------------------------------------------------------------

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

std::string mcnemar_html(const Comparison& c) {
  const PairedComparison& p = c.paired;
  const std::string a = esc(c.a.display_name), b = esc(c.b.display_name);
  std::string h = "<table class=\"mcnemar\"><thead><tr><th>" + std::to_string(p.paired) +
                  " paired test images</th><th class=\"num\">" + b +
                  " right</th><th class=\"num\">" + b + " wrong</th></tr></thead><tbody><tr><td>" +
                  a + " right</td><td class=\"num\">" + std::to_string(p.both_right) +
                  "</td><td class=\"num\"><b>b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
                  "</b></td></tr><tr><td>" + a + " wrong</td><td class=\"num\"><b>c = " +
                  std::to_string(p.mcnemar.a_wrong_b_right) + "</b></td><td class=\"num\">" +
                  std::to_string(p.both_wrong) + "</td></tr></tbody></table>";
  h += "<p>McNemar's exact test: b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       ", c = " + std::to_string(p.mcnemar.a_wrong_b_right) +
       ", two-sided p = " + fmt_p_value(p.mcnemar.p_value) +
       " <span class=\"note\">(continuity-corrected \u03c7\u00b2 = " +
       printf_string("%.3f", p.mcnemar.statistic) + ")</span></p>";
  h += "<p><b>" + esc(p.interpretation) + "</b></p>";
  return h +
         "<p class=\"note\">Only the images on which the models disagree (b and c) carry "
         "information; under equal error rates b ~ Binomial(b + c, \u00bd).</p>";
}

}  // namespace

std::string render_report_html(const Comparison& c) {
  const std::string title = "BUSI classifiers: " + c.a.display_name + " vs " + c.b.display_name;
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>" +
      esc(title) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n"
      "<body>\n<main>\n";
  std::string classes;
  for (size_t k = 0; k < c.a.class_names.size(); ++k)
    classes += (k ? ", " : "") + c.a.class_names[k];
  h += "<header><h1>" + esc(title) + "</h1><p>Breast-ultrasound images (" + esc(classes) +
       ") \u00b7 " + count_of(c.paired.paired, "paired test image") + " \u00b7 report built " +
       esc(c.environment.generated_at) + "</p></header>\n";

  if (!c.warnings.empty()) {
    h += "<section class=\"warnings\"><h2>Warnings</h2><ul>";
    for (const auto& w : c.warnings) h += "<li>" + esc(w) + "</li>";
    h += "</ul></section>\n";
  }

  const MetricRow& f1 = row_named(c, "macro_f1");
  h += "<section><h2>Summary</h2><div class=\"cards\">" +
       summary_card(c.a, f1.a, f1.a_ci, c.rows, false) +
       summary_card(c.b, f1.b, f1.b_ci, c.rows, true) + "</div><p class=\"headline\">" +
       esc(headline(c)) + "</p><p class=\"headline\">" + esc(c.paired.interpretation) +
       "</p></section>\n";

  h += "<section><h2>Test metrics</h2>" + metric_table_html(c) +
       "<p class=\"note\">Brackets: 95 % percentile-bootstrap confidence intervals (" +
       std::to_string(c.options.bootstrap_rounds) + " resamples of the test images, seed " +
       std::to_string(c.options.bootstrap_seed) +
       "). The difference column is a paired bootstrap over the images both runs predicted; it is "
       "in bold where its interval excludes 0. The higher of the two values is in bold. Precision "
       "of a class never predicted is 0 by convention.</p></section>\n";

  h += "<section><h2>Models and cost</h2>" + two_column_table(c, model_facts(c), true);
  for (const RunFolder* run : {&c.a, &c.b})  // the trainer's own account of the weights loaded
    if (const Json* summary = run->config.find("imagenet_summary"); summary && summary->is_string())
      h +=
          "<p class=\"note\">" + esc(run->display_name) + ": " + esc(summary->as_string()) + "</p>";
  h += "</section>\n";
  h += "<section><h2>McNemar's test on the paired test predictions</h2>" + mcnemar_html(c) +
       "</section>\n";
  h += "<section><h2>Learning curves</h2>" + learning_curves_html(c) +
       "<p class=\"note\">Solid: training loss (the loss optimised: class-weighted, averaged over "
       "the epoch in training mode); dashed: validation loss (plain cross-entropy, eval mode). "
       "Dotted vertical lines mark "
       "a change of training phase (VGG16: classifier head first, then "
       "fine-tuning).</p></section>\n";
  h += "<section><h2>Confusion matrices (test set)</h2>" + confusion_matrices_html(c) +
       "</section>\n";
  h += "<section><h2>ROC curves, one class against the rest (test set)</h2>" + roc_curves_html(c) +
       "</section>\n";
  h += "<section><h2>Data split</h2><p>From <code>" + esc(file_in(c.a.dir, "split.csv")) +
       "</code>" +
       (c.a.split && c.b.split && c.a.split->rows == c.b.split->rows
            ? "; both runs used exactly the same split."
            : ".") +
       "</p>" + split_table_html(c.a, c.a.class_names) + "</section>\n";
  h += "<section><h2>Settings</h2>" + settings_table_html(c) + "</section>\n";
  h += "<section><h2>Environment</h2>" + two_column_table(c, environment_facts(c), false) +
       "<p class=\"note\">Report built " + esc(c.environment.generated_at) + " with " +
       esc(c.environment.compiler) + " on " + esc(c.environment.host) + ".</p></section>\n";
  h += "<footer>Metrics are recomputed from each run's <code>predictions.csv</code> (prediction = "
       "the class of highest probability). Generated by busi-engine <code>compare</code>; the same "
       "numbers are in <code>results.json</code> and <code>report.md</code>.</footer>\n";
  return h + "</main>\n</body>\n</html>\n";
}

// ---- Markdown -----------------------------------------------------------------------------------

namespace {

// Pipes inside a Markdown table cell must be escaped.
std::string md(std::string s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

std::string md_value(double v, const Interval& ci) {
  const std::string interval = fmt_interval(ci);
  return fmt_metric(v) + (interval.empty() ? "" : " " + interval);
}

std::string md_fact_table(const Comparison& c, const FactRows& rows) {
  std::string m =
      "| | " + md(c.a.display_name) + " | " + md(c.b.display_name) + " |\n|---|---:|---:|\n";
  for (const auto& [name, values] : rows)
    if (values.first != kDash || values.second != kDash)
      m += "| " + md(name) + " | " + md(values.first) + " | " + md(values.second) + " |\n";
  return m;
}

}  // namespace

std::string render_report_markdown(const Comparison& c) {
  const std::string a = md(c.a.display_name), b = md(c.b.display_name);
  std::string m = "# BUSI classifiers: " + a + " vs " + b + "\n\n";
  m += "Report built " + c.environment.generated_at + " from `" + c.a.dir + "` and `" + c.b.dir +
       "`. Plots (learning curves, confusion matrices, ROC curves) are in `report.html`.\n\n";
  for (const auto& w : c.warnings) m += "> **Warning:** " + w + "\n";
  if (!c.warnings.empty()) m += "\n";
  m += headline(c) + "\n\n";

  m += "## Test metrics\n\n| Metric | " + a + " | " + b + " | " + b + " \u2212 " + a +
       " |\n|---|---:|---:|---:|\n";
  int group = -2;
  for (const MetricRow& row : c.rows) {
    if (row.class_index != group && row.class_index >= 0) {
      const auto k = static_cast<size_t>(row.class_index);
      m += "| **" + md(c.a.class_names[k]) + "** (" +
           count_of(c.a.metrics.support[k], "test image") + ") | | | |\n";
    }
    group = row.class_index;
    m += "| " + md(row.label) + " | " + md_value(row.a, row.a_ci) + " | " +
         md_value(row.b, row.b_ci) + " | " + fmt_signed(row.difference) + " " +
         fmt_interval(row.difference_ci) + " |\n";
  }
  m += "\n95 % percentile-bootstrap intervals (" + std::to_string(c.options.bootstrap_rounds) +
       " resamples, seed " + std::to_string(c.options.bootstrap_seed) +
       "); the difference uses a paired bootstrap over the shared test images.\n\n";

  m += "## Models and cost\n\n" + md_fact_table(c, model_facts(c)) + "\n";

  const PairedComparison& p = c.paired;
  m += "## McNemar's test\n\n| " + std::to_string(p.paired) + " paired images | " + b +
       " right | " + b + " wrong |\n|---|---:|---:|\n| " + a + " right | " +
       std::to_string(p.both_right) + " | b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       " |\n| " + a + " wrong | c = " + std::to_string(p.mcnemar.a_wrong_b_right) + " | " +
       std::to_string(p.both_wrong) + " |\n\n";
  m += "b = " + std::to_string(p.mcnemar.a_right_b_wrong) +
       ", c = " + std::to_string(p.mcnemar.a_wrong_b_right) +
       ", exact two-sided p = " + fmt_p_value(p.mcnemar.p_value) +
       " (continuity-corrected chi-square " + printf_string("%.3f", p.mcnemar.statistic) + "). " +
       p.interpretation + "\n\n";

  m += "## Settings\n\n| Setting | " + a + " | " + b + " |\n|---|---|---|\n";
  for (const SettingRow& row : setting_rows(c))
    m += "| `" + row.key + "` | " + md(row.a) + " | " + md(row.b) + " |\n";
  m += "\n## Environment\n\n" + md_fact_table(c, environment_facts(c)) + "\nReport built with " +
       c.environment.compiler + " on " + c.environment.host + ".\n";
  return m;
}

// ---- JSON ---------------------------------------------------------------------------------------

namespace {

Json interval_json(const Interval& ci) { return std::vector<double>{ci.low, ci.high}; }

Json run_json(const RunFolder& run, const std::vector<MetricRow>& rows, bool is_b) {
  Json j = Json::object();
  j["name"] = run.display_name;
  j["model"] = run.model;
  j["run_dir"] = run.dir;
  j["initialisation"] = describe_initialisation(run);
  j["test"] = metrics_to_json_value(run.metrics);
  Json& cis = j["confidence_intervals_95"] = Json::object();
  for (const MetricRow& row : rows) cis[row.key] = interval_json(is_b ? row.b_ci : row.a_ci);
  for (const char* key : {"parameters", "trainable_parameters", "training_seconds",
                          "mean_img_per_s", "overall_img_per_s"})
    j[key] = run.summary.contains(key) ? run.summary.at(key) : Json();
  j["epochs_run"] = static_cast<int64_t>(run.history.size());
  j["config"] = run.config;
  return j;
}

}  // namespace

Json results_to_json(const Comparison& c) {
  Json j = Json::object();
  j["title"] = "BUSI classifiers: " + c.a.display_name + " vs " + c.b.display_name;
  j["generated_at"] = c.environment.generated_at;
  j["models"] = Json::array();
  j["models"].push_back(run_json(c.a, c.rows, false));
  j["models"].push_back(run_json(c.b, c.rows, true));

  Json& cmp = j["comparison"] = Json::object();
  cmp["a"] = c.a.display_name;
  cmp["b"] = c.b.display_name;
  cmp["paired_test_images"] = c.paired.paired;
  cmp["only_in_a"] = c.paired.only_in_a;
  cmp["only_in_b"] = c.paired.only_in_b;
  Json& diffs = cmp["difference_b_minus_a"] = Json::object();
  for (const MetricRow& row : c.rows) {
    Json& d = diffs[row.key] = Json::object();
    d["estimate"] = row.difference;
    d["ci95"] = interval_json(row.difference_ci);
  }
  Json& mc = cmp["mcnemar"] = Json::object();
  mc["both_right"] = c.paired.both_right;
  mc["a_right_b_wrong"] = c.paired.mcnemar.a_right_b_wrong;
  mc["a_wrong_b_right"] = c.paired.mcnemar.a_wrong_b_right;
  mc["both_wrong"] = c.paired.both_wrong;
  mc["statistic_chi2_corrected"] = c.paired.mcnemar.statistic;
  mc["p_value_exact"] = c.paired.mcnemar.p_value;
  mc["interpretation"] = c.paired.interpretation;

  Json& boot = j["bootstrap"] = Json::object();
  boot["method"] = "percentile";
  boot["rounds"] = c.options.bootstrap_rounds;
  boot["seed"] = c.options.bootstrap_seed;
  Json& env = j["environment"] = Json::object();
  env["generated_at"] = c.environment.generated_at;
  env["compiler"] = c.environment.compiler;
  env["host"] = c.environment.host;
  j["warnings"] = c.warnings;
  return j;
}

// ---- Writing ------------------------------------------------------------------------------------

ReportFiles write_comparison_report(const std::string& dir_a, const std::string& dir_b,
                                    const std::string& out_dir, const ReportOptions& options) {
  const Comparison c = build_comparison(dir_a, dir_b, options);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  BUSI_CHECK(fs::is_directory(out_dir), out_dir, ": cannot create the output folder",
             ec ? " (" + ec.message() + ")" : std::string());
  ReportFiles files{file_in(out_dir, "report.html"), file_in(out_dir, "report.md"),
                    file_in(out_dir, "results.json")};
  write_text_file(files.html, render_report_html(c));
  write_text_file(files.markdown, render_report_markdown(c));
  write_text_file(files.json, results_to_json(c).dump(2) + "\n");
  return files;
}

}  // namespace busi::tools
