// The report's cross-validation section (see cv_section.h).
#include "tools/report/cv_section.h"

#include <cmath>
#include <numeric>

#include "tools/report/format.h"
#include "tools/report/html_style.h"
#include "tools/report/svg_plot.h"

namespace busi::tools {

namespace {

const char* kColourC = "#2ca02c";  // green: VGG16 from random weights

// "3/2": repeat 3, fold 2 (just "2" when there is one repeat).
std::string fold_name(const FoldResult& f, int64_t repeats) {
  return repeats > 1 ? std::to_string(f.repeat) + "/" + std::to_string(f.fold)
                     : std::to_string(f.fold);
}

double mean(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}
double sd(const std::vector<double>& v) {
  if (v.size() < 2) return std::nan("");
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}
std::string mean_sd(const std::vector<double>& v) {
  return fmt_metric(mean(v)) + " \u00b1 " + fmt_metric(sd(v));
}

// The rows of a table of tests: metric, both means, the difference, its corrected interval,
// t, p, the two standard errors and the smallest detectable difference.
struct TestRow {
  std::string metric, a, b, difference, ci, t, p, se, detectable;
  bool significant = false;
};
std::vector<TestRow> test_rows(const std::vector<FoldTest>& tests) {
  std::vector<TestRow> rows;
  for (const FoldTest& f : tests) {
    const CorrectedTTest& t = f.test;
    rows.push_back({f.label, mean_sd(f.a), mean_sd(f.b), fmt_signed(t.mean_difference),
                    fmt_interval(t.ci), printf_string("%.2f", t.t), fmt_p_value(t.p_value),
                    fmt_metric(t.naive_standard_error) + " / " + fmt_metric(t.standard_error),
                    fmt_metric(t.minimum_detectable), t.p_value < 0.05});
  }
  return rows;
}

std::string tests_html(const std::vector<FoldTest>& tests, const std::string& a,
                       const std::string& b) {
  std::string h = "<table><thead><tr><th>Metric (per fold)</th><th class=\"num\">" + esc(a) +
                  " mean \u00b1 sd</th><th class=\"num\">" + esc(b) +
                  " mean \u00b1 sd</th><th class=\"num\">" + esc(b) + " \u2212 " + esc(a) +
                  "</th><th class=\"num\">95 % CI (corrected)</th><th class=\"num\">t</th><th "
                  "class=\"num\">p</th><th class=\"num\">SE naive / corrected</th><th "
                  "class=\"num\">detectable (80 % power)</th></tr></thead><tbody>";
  for (const TestRow& r : test_rows(tests))
    h += "<tr><td>" + esc(r.metric) + "</td><td class=\"num\">" + r.a + "</td><td class=\"num\">" +
         r.b + "</td><td class=\"num" + (r.significant ? " sig" : "") + "\">" + r.difference +
         "</td><td class=\"num\">" + r.ci + "</td><td class=\"num\">" + r.t +
         "</td><td class=\"num\">" + r.p + "</td><td class=\"num\">" + r.se +
         "</td><td class=\"num\">" + r.detectable + "</td></tr>";
  return h + "</tbody></table>";
}

std::string tests_markdown(const std::vector<FoldTest>& tests, const std::string& a,
                           const std::string& b) {
  std::string m = "| Metric (per fold) | " + a + " mean \u00b1 sd | " + b + " mean \u00b1 sd | " +
                  b + " \u2212 " + a +
                  " | 95 % CI (corrected) | t | p | SE naive / corrected | detectable (80 % "
                  "power) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const TestRow& r : test_rows(tests))
    m += "| " + r.metric + " | " + r.a + " | " + r.b + " | " +
         (r.significant ? "**" + r.difference + "**" : r.difference) + " | " + r.ci + " | " + r.t +
         " | " + r.p + " | " + r.se + " | " + r.detectable + " |\n";
  return m;
}

// Each fold: its sizes and both models' accuracy and macro-F1.
struct FoldRow {
  std::string fold, train, val, test, acc_a, acc_b, f1_a, f1_b, diff;
};
std::vector<FoldRow> fold_rows(const CrossValidation& cv) {
  std::vector<FoldRow> rows;
  for (size_t j = 0; j < cv.folds_a.size(); ++j) {
    const FoldResult &a = cv.folds_a[j], &b = cv.folds_b[j];
    rows.push_back({fold_name(a, cv.repeats), std::to_string(a.train_images),
                    std::to_string(a.val_images), std::to_string(a.test_images),
                    fmt_metric(a.metrics.accuracy), fmt_metric(b.metrics.accuracy),
                    fmt_metric(a.metrics.macro_f1), fmt_metric(b.metrics.macro_f1),
                    fmt_signed(b.metrics.macro_f1 - a.metrics.macro_f1)});
  }
  return rows;
}

// Macro-F1 and accuracy per fold, both models (and C), as two small line charts.
std::string fold_charts(const Comparison& c) {
  const CrossValidation& cv = *c.cv;
  const auto chart = [&](const char* title, double ClassificationMetrics::*member) {
    LineChart ch;
    ch.title = title;
    ch.x_label = cv.repeats > 1 ? "fold (repeats in turn)" : "fold";
    ch.y_label = "test score";
    ch.integer_x = true;
    ch.width = 420;
    ch.height = 260;
    const auto series = [&](const std::vector<FoldResult>& folds, const std::string& name,
                            const char* colour) {
      PlotSeries s;
      s.label = name;
      s.color = colour;
      s.markers = true;
      for (size_t j = 0; j < folds.size(); ++j) {
        s.x.push_back(static_cast<double>(j + 1));
        s.y.push_back(folds[j].metrics.*member);
      }
      return s;
    };
    ch.series.push_back(series(cv.folds_a, c.a.display_name, kColourA));
    ch.series.push_back(series(cv.folds_b, c.b.display_name, kColourB));
    if (cv.ablation)
      ch.series.push_back(series(cv.ablation->folds, "VGG16 (random init)", kColourC));
    return render_line_chart(ch);
  };
  return "<div class=\"charts\">" +
         chart("Macro-F1 per test fold", &ClassificationMetrics::macro_f1) +
         chart("Accuracy per test fold", &ClassificationMetrics::accuracy) + "</div>";
}

// VGG16 from random weights, pooled out of fold: "accuracy 0.602, macro-F1 0.576", averaged over
// the repeats when there are several (as the test metrics are).
std::string ablation_pooled_text(const PooledRun& p) {
  double accuracy = p.run.metrics.accuracy, macro_f1 = p.run.metrics.macro_f1;
  for (const RunFolder& r : p.later_repeats)
    accuracy += r.metrics.accuracy, macro_f1 += r.metrics.macro_f1;
  const auto n = static_cast<double>(p.later_repeats.size() + 1);
  return "accuracy " + fmt_metric(accuracy / n) + ", macro-F1 " + fmt_metric(macro_f1 / n) +
         (p.later_repeats.empty()
              ? ""
              : ", means over " + std::to_string(p.later_repeats.size() + 1) + " repeats");
}

std::string protocol_sentence(const Comparison& c) {
  const CrossValidation& cv = *c.cv;
  return "Stratified, grouped " + std::to_string(cv.folds) + "-fold cross-validation" +
         (cv.repeats > 1 ? ", repeated " + std::to_string(cv.repeats) + " times with other seeds"
                         : "") +
         " (seed " + std::to_string(cv.seed) +
         "): near-duplicate groups stay in one fold, each fold's validation images come from its "
         "own training part, and both models train on the same folds. Every placed image is "
         "tested exactly once" +
         (cv.repeats > 1 ? " per repeat" : "") +
         ": the metrics, intervals and McNemar's test below pool the out-of-fold predictions (" +
         count_of(static_cast<int64_t>(c.a.paths.size()), "image") + ")" +
         (c.repeats_in_table > 1
              ? "; the test metrics are the means over the " + std::to_string(c.repeats_in_table) +
                    " repeats, each scored on the same images, so that part of the models' "
                    "training noise averages out; McNemar's test, the confusion matrices and "
                    "the calibration are the first repeat's"
              : "") +
         "; their bootstrap resamples the test images' near-duplicate groups" +
         (c.repeats_in_table > 1 ? " (an image drawn with its predictions in every repeat)" : "") +
         " and treats the trained models as fixed. The corrected resampled t-test (Nadeau & "
         "Bengio 2003) compares the folds' scores, so it also counts how the models vary with "
         "their training "
         "images; it widens the plain paired t-test's standard error by the folds' overlap in "
         "training images (1/J + n_test/n_train, here n_test/n_train = " +
         printf_string("%.3f", cv.test_train_ratio) + "). The verdict is the t-test's.";
}

// One external folder's rows: per model, the fold ensemble's accuracy and macro-F1 on the
// unseen images (with intervals), on the seen ones, and its malignant operating point.
struct ExternalRow {
  std::string model, members, unseen_acc, unseen_f1, seen, malignant;
};

double json_number(const Json& j, const char* key) {
  const Json* v = j.is_object() ? j.find(key) : nullptr;
  return v && v->is_number() ? v->as_number() : std::nan("");
}
Interval json_interval(const Json& j, const char* key) {
  const Json* v = j.is_object() ? j.find(key) : nullptr;
  if (!v || !v->is_array() || v->size() != 2) return {std::nan(""), std::nan("")};
  const auto at = [&](size_t i) {
    return (*v)[i].is_number() ? (*v)[i].as_number() : std::nan("");
  };
  return {at(0), at(1)};
}
std::vector<ExternalRow> external_rows(const Json& doc) {
  std::vector<ExternalRow> rows;
  const Json* models = doc.find("models");
  if (!models || !models->is_object()) return rows;
  for (const auto& [model, m] : models->items()) {
    ExternalRow r;
    r.model = model_title(model);
    r.members = m.find("members") ? m.at("members").to_display_string() : kDash;
    const Json& unseen = m.find("unseen") ? m.at("unseen") : Json();
    const Json& seen = m.find("seen") ? m.at("seen") : Json();
    r.unseen_acc = fmt_metric(json_number(unseen, "accuracy")) + " " +
                   fmt_interval(json_interval(unseen, "accuracy_ci95"));
    r.unseen_f1 = fmt_metric(json_number(unseen, "macro_f1")) + " " +
                  fmt_interval(json_interval(unseen, "macro_f1_ci95"));
    r.seen = seen.is_object() ? "accuracy " + fmt_metric(json_number(seen, "accuracy")) + " on " +
                                    count_of(static_cast<int64_t>(json_number(seen, "n")), "image")
                              : "none";
    const Json* mal = m.find("malignant_unseen");
    r.malignant = mal ? "sensitivity " + fmt_metric(json_number(*mal, "sensitivity")) +
                            ", specificity " + fmt_metric(json_number(*mal, "specificity")) +
                            " at " + printf_string("%.3f", json_number(*mal, "threshold"))
                      : kDash;
    rows.push_back(r);
  }
  return rows;
}

std::string external_intro(const Json& doc) {
  const int64_t images = static_cast<int64_t>(json_number(doc, "images"));
  const int64_t seen = static_cast<int64_t>(json_number(doc, "seen_images"));
  const Json* folder = doc.find("folder");
  return (folder && folder->is_string() ? folder->as_string() : std::string("?")) + ": " +
         count_of(images, "image") + ", of which " + std::to_string(seen) +
         " are near-duplicates of images the comparison trained on (\u201cseen\u201d, scored "
         "apart; listed in external/<name>/seen.csv). Each model is its fold ensemble: the "
         "calibrated probabilities of its fold models averaged" +
         (doc.find("test_time_flip") && doc.at("test_time_flip").as_bool()
              ? ", each over the image and its mirror"
              : "") +
         ".";
}

}  // namespace

std::string cv_section_html(const Comparison& c) {
  if (!c.cv) return "";
  const CrossValidation& cv = *c.cv;
  // (The verdict itself heads the summary above.)
  std::string h = "<section><h2>Cross-validation</h2><p>" + esc(protocol_sentence(c)) + "</p>";
  h += tests_html(cv.tests, c.a.display_name, c.b.display_name);
  h += "<p class=\"note\">SE: standard error of the mean fold difference, naive (s/\u221aJ) and "
       "corrected; detectable: (t<sub>0.975</sub> + t<sub>0.80</sub>) \u00d7 corrected SE, the "
       "smallest true difference these folds would call significant 4 times in 5.</p>";
  h += fold_charts(c);
  h += "<table><thead><tr><th>Fold</th><th class=\"num\">train</th><th class=\"num\">val</th><th "
       "class=\"num\">test</th><th class=\"num\">" +
       dot(kColourA) + esc(c.a.display_name) + " accuracy</th><th class=\"num\">" + dot(kColourB) +
       esc(c.b.display_name) + " accuracy</th><th class=\"num\">" + esc(c.a.display_name) +
       " macro-F1</th><th class=\"num\">" + esc(c.b.display_name) +
       " macro-F1</th><th class=\"num\">difference</th></tr></thead><tbody>";
  for (const FoldRow& r : fold_rows(cv))
    h += "<tr><td>" + r.fold + "</td><td class=\"num\">" + r.train + "</td><td class=\"num\">" +
         r.val + "</td><td class=\"num\">" + r.test + "</td><td class=\"num\">" + r.acc_a +
         "</td><td class=\"num\">" + r.acc_b + "</td><td class=\"num\">" + r.f1_a +
         "</td><td class=\"num\">" + r.f1_b + "</td><td class=\"num\">" + r.diff + "</td></tr>";
  h += "</tbody></table>";
  if (cv.ablation) {
    h += "<h3>What ImageNet contributes (ablation)</h3><p>VGG16 trained from random weights on "
         "the same folds (pooled out-of-fold: " +
         ablation_pooled_text(*cv.ablation) +
         "). The architecture's effect is VGG16 from random weights against " +
         esc(c.a.display_name) +
         " (both from scratch); the ImageNet weights' effect is VGG16 "
         "with them against VGG16 without.</p>";
    h += "<p><b>Architecture</b></p>" +
         tests_html(cv.architecture, c.a.display_name, "VGG16 (random init)");
    h += "<p><b>ImageNet weights</b></p>" +
         tests_html(cv.pretraining, "VGG16 (random init)", c.b.display_name);
  }
  for (const Json& doc : cv.external) {
    h += "<h3>External test folder</h3><p>" + esc(external_intro(doc)) +
         "</p><table><thead><tr><th>Model</th><th class=\"num\">fold models</th><th "
         "class=\"num\">accuracy, unseen</th><th class=\"num\">macro-F1, unseen</th><th>seen "
         "images</th><th>malignant (unseen, mean fold threshold)</th></tr></thead><tbody>";
    for (const ExternalRow& r : external_rows(doc))
      h += "<tr><td>" + esc(r.model) + "</td><td class=\"num\">" + r.members +
           "</td><td class=\"num\">" + r.unseen_acc + "</td><td class=\"num\">" + r.unseen_f1 +
           "</td><td>" + esc(r.seen) + "</td><td>" + esc(r.malignant) + "</td></tr>";
    h += "</tbody></table>";
  }
  return h + "</section>\n";
}

std::string cv_section_markdown(const Comparison& c) {
  if (!c.cv) return "";
  const CrossValidation& cv = *c.cv;
  std::string m = "## Cross-validation\n\n**" + cv.headline + "**\n\n" + protocol_sentence(c) +
                  "\n\n" + tests_markdown(cv.tests, c.a.display_name, c.b.display_name);
  m += "\n| Fold | train | val | test | " + c.a.display_name + " accuracy | " + c.b.display_name +
       " accuracy | " + c.a.display_name + " macro-F1 | " + c.b.display_name +
       " macro-F1 | difference |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const FoldRow& r : fold_rows(cv))
    m += "| " + r.fold + " | " + r.train + " | " + r.val + " | " + r.test + " | " + r.acc_a +
         " | " + r.acc_b + " | " + r.f1_a + " | " + r.f1_b + " | " + r.diff + " |\n";
  if (cv.ablation) {
    m += "\n### What ImageNet contributes (ablation)\n\nVGG16 from random weights on the same "
         "folds: pooled " +
         ablation_pooled_text(*cv.ablation) +
         ".\n\nArchitecture (VGG16 from random weights against " + c.a.display_name + "):\n\n" +
         tests_markdown(cv.architecture, c.a.display_name, "VGG16 (random init)") +
         "\nImageNet weights (VGG16 with them against without):\n\n" +
         tests_markdown(cv.pretraining, "VGG16 (random init)", c.b.display_name);
  }
  for (const Json& doc : cv.external) {
    m += "\n### External test folder\n\n" + external_intro(doc) +
         "\n\n| Model | fold models | accuracy, unseen | macro-F1, unseen | seen images | "
         "malignant (unseen, mean fold threshold) |\n|---|---:|---:|---:|---|---|\n";
    for (const ExternalRow& r : external_rows(doc))
      m += "| " + r.model + " | " + r.members + " | " + r.unseen_acc + " | " + r.unseen_f1 + " | " +
           r.seen + " | " + r.malignant + " |\n";
  }
  return m + "\n";
}

Json cv_to_json(const Comparison& c) {
  if (!c.cv) return Json();
  const CrossValidation& cv = *c.cv;
  Json j = Json::object();
  j["folds"] = cv.folds;
  j["repeats"] = cv.repeats;
  j["seed"] = static_cast<int64_t>(cv.seed);
  j["test_train_ratio"] = cv.test_train_ratio;
  j["headline"] = cv.headline;
  const auto tests_json = [](const std::vector<FoldTest>& tests) {
    Json out = Json::object();
    for (const FoldTest& f : tests) {
      Json t = Json::object();
      t["a"] = f.a;
      t["b"] = f.b;
      t["mean_difference"] = f.test.mean_difference;
      t["sd"] = f.test.sd;
      t["standard_error"] = f.test.standard_error;
      t["naive_standard_error"] = f.test.naive_standard_error;
      t["t"] = f.test.t;
      t["p_value"] = f.test.p_value;
      t["ci95"] = interval_json(f.test.ci);
      t["minimum_detectable_80"] = f.test.minimum_detectable;
      out[f.metric] = t;
    }
    return out;
  };
  j["corrected_t_tests"] = tests_json(cv.tests);
  Json& folds = j["per_fold"] = Json::array();
  for (size_t i = 0; i < cv.folds_a.size(); ++i) {
    const FoldResult &a = cv.folds_a[i], &b = cv.folds_b[i];
    Json f = Json::object();
    f["repeat"] = a.repeat;
    f["fold"] = a.fold;
    f["train_images"] = a.train_images;
    f["val_images"] = a.val_images;
    f["test_images"] = a.test_images;
    f["a"] = metrics_to_json_value(a.metrics);
    f["b"] = metrics_to_json_value(b.metrics);
    if (cv.ablation) f["c"] = metrics_to_json_value(cv.ablation->folds[i].metrics);
    folds.push_back(f);
  }
  if (cv.ablation) {
    Json& ab = j["ablation"] = Json::object();
    ab["model"] = "VGG16 (random init)";
    ab["pooled"] = metrics_to_json_value(cv.ablation->run.metrics);
    ab["architecture"] = tests_json(cv.architecture);
    ab["imagenet_weights"] = tests_json(cv.pretraining);
  }
  if (!cv.external.empty()) j["external"] = cv.external;
  return j;
}

}  // namespace busi::tools
