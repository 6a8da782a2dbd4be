// Tests of the report pieces: the JSON writer/reader, CSV quoting, SVG charts, and a whole
// comparison report built from two synthetic run folders written here by the run-folder contract.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/metrics/classification.h"
#include "tests/synthetic_run_folders.h"
#include "tools/report/report.h"
#include "tools/report/svg_plot.h"

using namespace busi::tools;
using namespace busi::tools::synthetic;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) { return read_text_file(path); }

}  // namespace

// ---- JSON ---------------------------------------------------------------------------------------

TEST_CASE("json: building, writing and reading back") {
  Json doc = Json::object();
  doc["name"] = "benign (12).png";
  doc["quote"] = "say \"hi\"\n\ttab \\ done";
  doc["lr"] = 1e-4f;
  doc["big"] = int64_t{9007199254740993};  // 2^53 + 1: not representable as a double
  doc["nan"] = std::nan("");
  doc["flag"] = true;
  doc["list"] = std::vector<int>{1, 2, 3};
  doc["nested"]["inner"] = 0.5;
  const std::string text = doc.dump(2);
  CHECK(contains(text, "\"lr\": 0.0001"));  // the float's shortest form
  CHECK(contains(text, "\"nan\": null"));   // NaN has no JSON spelling
  CHECK(contains(text, "[1, 2, 3]"));       // arrays of numbers stay on one line
  CHECK(contains(text, "\\\"hi\\\"\\n\\ttab \\\\"));
  const Json back = parse_json(text);
  CHECK(back.at("name").as_string() == "benign (12).png");
  CHECK(back.at("quote").as_string() == "say \"hi\"\n\ttab \\ done");
  CHECK(back.at("big").as_int() == 9007199254740993);
  CHECK(std::isnan(back.at("nan").as_number()));
  CHECK(back.at("flag").as_bool());
  CHECK(back.at("list")[2].as_int() == 3);
  CHECK(back.at("nested").at("inner").as_number() == 0.5);
  CHECK(back.items().front().first == "name");  // keys keep their order
  CHECK(parse_json(doc.dump(0)).dump(2) == text);
  CHECK(parse_json(R"("\u00e9\ud83d\ude00")").as_string() == "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("json: malformed text gives the source, line and column") {
  CHECK_THROWS_WITH(parse_json("{\n  \"a\": 1,\n  \"b\" 2\n}", "config.json"),
                    doctest::Contains("config.json: bad JSON at line 3, column 7 (byte 18): "
                                      "expected ':'"));
  CHECK_THROWS_WITH(parse_json("[1, 2", "x"), doctest::Contains("x: bad JSON at line 1"));
  CHECK_THROWS_WITH(parse_json("{} extra"), doctest::Contains("unexpected text"));
  // The one parser is strict for the tools' files too: a repeated key is ambiguous.
  CHECK_THROWS_WITH(parse_json(R"({"a": 1, "a": 2})"), doctest::Contains("duplicate key \"a\""));
  // Full JSON's numbers and words, and the ways to get them wrong.
  CHECK(parse_json("[-0.5e-3]")[0].as_number() == -0.5e-3);
  CHECK(parse_json("[1E2]")[0].as_number() == 100.0);
  CHECK(parse_json("99999999999999999999").as_number() == 1e20);  // beyond int64: a double
  CHECK(parse_json("-9223372036854775808").as_int() == INT64_MIN);
  CHECK(parse_json("[true, false, null]").dump(0) == "[true, false, null]");
  CHECK_THROWS_WITH(parse_json("[1.]"), doctest::Contains("expected a digit after the decimal"));
  CHECK_THROWS_WITH(parse_json("[1e]"), doctest::Contains("expected a digit in the exponent"));
  CHECK_THROWS_WITH(parse_json("[-]"), doctest::Contains("expected a digit"));
  CHECK_THROWS_WITH(parse_json("[.5]"), doctest::Contains("unexpected character '.'"));
  CHECK_THROWS_WITH(parse_json("[01]"), doctest::Contains("leading zeros"));
  CHECK_THROWS_WITH(parse_json("[tru]"), doctest::Contains("expected true, false or null"));
  CHECK_THROWS_WITH(parse_json("[1e999]"), doctest::Contains("out of the range of a double"));
  CHECK_THROWS_WITH(parse_json(""), doctest::Contains("found the end of the text"));
  CHECK_THROWS_WITH(Json(3).as_string(), doctest::Contains("expected a string, found a number"));
}

// ---- CSV ----------------------------------------------------------------------------------------

TEST_CASE("csv: fields are quoted only when needed and read back unchanged") {
  CHECK(csv_escape("benign (12).png") == "benign (12).png");  // spaces inside are fine
  CHECK(csv_escape("a,b") == "\"a,b\"");
  CHECK(csv_escape("say \"x\"") == "\"say \"\"x\"\"\"");
  CHECK(csv_escape(" padded") == "\" padded\"");
  const fs::path dir = fresh_folder("csv");
  const std::string path = (dir / "t.csv").string();
  {
    CsvWriter w(path, {"path", "value", "note"});
    w.write_row({"benign (1).png", 0.1f, "a,b"});
    w.write_row({"x\"y\".png", std::nan(""), "two\nlines"});
    w.write_row({"z.png", 3, ""});
    CHECK_THROWS_WITH(w.write_row({"too", "few"}), doctest::Contains("row of 2 fields"));
    CHECK(!fs::exists(path));  // nothing is written before commit()
    w.commit();
  }
  const CsvTable t = read_csv(path);
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0][0] == "benign (1).png");
  CHECK(t.rows[0][1] == "0.1");
  CHECK(t.rows[0][2] == "a,b");
  CHECK(t.rows[1][0] == "x\"y\".png");
  CHECK(std::isnan(t.number(1, 1)));  // NaN was written as an empty field
  CHECK(t.rows[1][2] == "two\nlines");
  CHECK(t.integer(2, 1) == 3);
  // Written whole under a temporary name and renamed: no temporary file is left beside it.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  CHECK(files == 1);
}

TEST_CASE("csv: CRLF line ends and malformed files") {
  const CsvTable t = parse_csv("a,b\r\n1,\"x\"\r\n\r\n2,y\r\n", "crlf.csv");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][1] == "x");
  CHECK(t.rows[1][1] == "y");
  CHECK_THROWS_WITH(parse_csv("a,b\n1,2\n3\n", "short.csv"),
                    doctest::Contains("short.csv: line 3: 1 fields, the header has 2"));
  CHECK_THROWS_WITH(parse_csv("a\n\"open\n", "q.csv"), doctest::Contains("never closed"));
  CHECK_THROWS_WITH(t.number(0, 1), doctest::Contains("'x' is not a number"));
  CHECK_THROWS_WITH(read_csv("/nonexistent/h.csv"),
                    doctest::Contains("/nonexistent/h.csv: missing"));
  CHECK(t.column_index("b") == 1);
  CHECK_THROWS_WITH(t.require_column("zz"), doctest::Contains("crlf.csv: no column 'zz'"));
}

// ---- SVG ----------------------------------------------------------------------------------------

TEST_CASE("svg: nice ticks and tick labels") {
  const std::vector<double> unit = nice_ticks(0, 1);  // step 0.2
  REQUIRE(unit.size() == 6);
  for (size_t i = 0; i < unit.size(); ++i) CHECK(unit[i] == doctest::Approx(0.2 * i));
  const std::vector<double> t = nice_ticks(0.13, 2.9);  // step 0.5: 0 .. 3
  CHECK(t.front() == 0.0);
  CHECK(t.back() == doctest::Approx(3.0));
  CHECK(t.size() == 7);
  CHECK(format_tick(0.6000000000000001, 0.2) == "0.6");
  CHECK(format_tick(0.25, 0.05) == "0.25");
  CHECK(format_tick(20, 5) == "20");
}

TEST_CASE("svg: a line chart has its axes, series, legend and escaped text") {
  LineChart chart;
  chart.title = "Loss <train & val>";
  chart.x_label = "epoch";
  chart.y_label = "loss";
  chart.integer_x = true;
  chart.series.push_back({"A train", {1, 2, 3}, {1.0, 0.7, 0.5}, "#1f77b4", false, false});
  chart.series.push_back({"B val", {1, 2, 3}, {1.1, NAN, 0.6}, "#e6550d", true, false});
  const std::string svg = render_line_chart(chart);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(contains(svg, "</svg>"));
  CHECK(contains(svg, "Loss &lt;train &amp; val&gt;"));
  CHECK(contains(svg, ">A train</text>"));
  CHECK(contains(svg, "stroke-dasharray=\"6 4\""));  // the dashed series
  CHECK(contains(svg, "<circle"));                   // B's points around the NaN stand alone
  CHECK(contains(svg, ">epoch</text>"));
}

TEST_CASE("svg: the confusion matrix shows counts and row percentages") {
  ConfusionHeatMap m;
  m.title = "SimpleCNN";
  m.class_names = kClasses;
  m.counts = {{8, 1, 1}, {2, 6, 2}, {0, 0, 10}};
  const std::string svg = render_confusion_matrix(m);
  CHECK(contains(svg, ">8</text>"));
  CHECK(contains(svg, ">80%</text>"));
  CHECK(contains(svg, ">100%</text>"));
  CHECK(contains(svg, ">malignant</text>"));
  CHECK(contains(svg, "predicted class"));
  m.counts.pop_back();
  CHECK_THROWS(render_confusion_matrix(m));
}

// ---- The report ---------------------------------------------------------------------------------

TEST_CASE("report: built from two synthetic run folders") {
  const fs::path root = fresh_folder("runs");
  const fs::path dir_a = root / "simple_cnn", dir_b = root / "vgg16";
  fs::create_directories(dir_a);
  fs::create_directories(dir_b);
  write_run_folder(dir_a, "simple_cnn", simple_wrong, /*names=*/false, /*reversed=*/false);
  write_run_folder(dir_b, "vgg16", vgg_wrong, /*names=*/true, /*reversed=*/true);

  const fs::path out = root / "report";
  ReportOptions options;
  options.bootstrap_rounds = 200;
  const ReportFiles files =
      write_comparison_report(dir_a.string(), dir_b.string(), out.string(), options);
  REQUIRE(fs::is_regular_file(files.html));
  REQUIRE(fs::is_regular_file(files.markdown));
  REQUIRE(fs::is_regular_file(files.json));

  const std::string html = read(files.html);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(contains(html, "<svg"));
  CHECK(contains(html, "SimpleCNN"));
  CHECK(contains(html, "VGG16"));
  CHECK(contains(html, "<td>Macro-F1</td>"));
  CHECK(contains(html, "<td>Balanced accuracy</td>"));
  CHECK(contains(html, "<td>Macro ROC-AUC</td>"));
  CHECK(contains(html, "Class \xe2\x80\x9cmalignant\xe2\x80\x9d"));  // per-class group rows
  CHECK(contains(html, "ImageNet weights: 5 of 13 conv layers"));
  CHECK(contains(html, "trained from scratch (random initialisation)"));
  // Paired by path although VGG16's rows are reversed: b = 3, c = 6, and the exact p-value
  // 2 (C(9,0) + C(9,1) + C(9,2) + C(9,3)) / 2^9 = 2 * 130 / 512 = 0.5078.
  CHECK(contains(html, "McNemar's exact test: b = 3, c = 6, two-sided p = 0.5078"));
  CHECK(contains(html, "no significant evidence"));
  CHECK(contains(html, "14,716,227"));   // VGG16 parameters from metrics.json
  CHECK(contains(html, "12 min 34 s"));  // its training time, 754.2 s
  CHECK(contains(html, "both runs used exactly the same split"));
  CHECK(contains(html, "ROC: normal vs rest"));
  CHECK(!contains(html, "Warnings"));  // consistent folders: nothing to warn about
  CHECK(!contains(html, "<script"));   // self-contained: no script, no external resource
  CHECK(!contains(html, "<link"));
  CHECK(!contains(html, "src="));

  const std::string markdown = read(files.markdown);
  CHECK(contains(markdown, "| Macro-F1 |"));
  CHECK(contains(markdown, "b = 3, c = 6"));
  CHECK(contains(markdown, "| `imagenet_layers_loaded` | \xe2\x80\x94 | 5 |"));

  const Json results = read_json_file(files.json);
  CHECK(results.at("models")[0].at("name").as_string() == "SimpleCNN");
  CHECK(results.at("models")[1].at("name").as_string() == "VGG16");
  CHECK(results.at("models")[0].at("test").at("accuracy").as_number() ==
        doctest::Approx(24.0 / 30));
  CHECK(results.at("models")[1].at("test").at("accuracy").as_number() ==
        doctest::Approx(27.0 / 30));
  const Json& mc = results.at("comparison").at("mcnemar");
  CHECK(mc.at("a_right_b_wrong").as_int() == 3);
  CHECK(mc.at("a_wrong_b_right").as_int() == 6);
  CHECK(mc.at("both_right").as_int() == 21);
  CHECK(mc.at("p_value_exact").as_number() == doctest::Approx(260.0 / 512));
  const Json& diff = results.at("comparison").at("difference_b_minus_a").at("accuracy");
  CHECK(diff.at("estimate").as_number() == doctest::Approx(0.1));
  CHECK(diff.at("ci95")[0].as_number() <= 0.1);
  CHECK(diff.at("ci95")[1].as_number() >= 0.1);

  if (std::system("python3 --version > /dev/null 2>&1") != 0) {
    MESSAGE("python3 not found: skipping the check of results.json with Python's json module");
  } else {
    const std::string command =
        "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '" + files.json + "'";
    CHECK(std::system(command.c_str()) == 0);
  }
}

TEST_CASE("report: two runs of one model are named by their initialisation") {
  const fs::path root = fresh_folder("same_model");
  const fs::path dir_a = root / "vgg_random", dir_b = root / "vgg_imagenet";
  fs::create_directories(dir_a);
  fs::create_directories(dir_b);
  write_run_folder(dir_a, "vgg16", simple_wrong, /*names=*/false, /*reversed=*/false);
  write_run_folder(dir_b, "vgg16", vgg_wrong, /*names=*/true, /*reversed=*/false);
  Json config = read_json_file((dir_a / "config.json").string());
  config["imagenet_layers_loaded"] = 0;  // the --init random ablation
  write_text_file((dir_a / "config.json").string(), config.dump());

  ReportOptions options;
  options.bootstrap_rounds = 50;
  const ReportFiles files =
      write_comparison_report(dir_a.string(), dir_b.string(), (root / "report").string(), options);
  const std::string markdown = read(files.markdown);
  CHECK(contains(markdown, "# BUSI classifiers: VGG16 (random init) vs VGG16 (ImageNet 5/13)"));
  CHECK(!contains(markdown, "VGG16 (A)"));
}

TEST_CASE("report: missing or malformed files are named in the error") {
  const fs::path root = fresh_folder("bad");
  const fs::path good = root / "good", broken = root / "broken";
  fs::create_directories(good);
  fs::create_directories(broken);
  write_run_folder(good, "simple_cnn", simple_wrong, false, false);
  write_run_folder(broken, "vgg16", vgg_wrong, false, false);

  fs::remove(broken / "predictions.csv");
  CHECK_THROWS_WITH(load_run_folder(broken.string()),
                    doctest::Contains("predictions.csv: missing (is this a trainer run folder?)"));
  write_text_file((broken / "predictions.csv").string(),
                  "path,label,pred,prob_a,prob_b\nx.png,7,0,0.5,0.5\n");
  CHECK_THROWS_WITH(load_run_folder(broken.string()), doctest::Contains("label '7'"));
  write_run_folder(broken, "vgg16", vgg_wrong, false, false);
  write_text_file((broken / "config.json").string(), "{\"model\": \"vgg16\",}");
  CHECK_THROWS_WITH(load_run_folder(broken.string()),
                    doctest::Contains("config.json: bad JSON at line 1"));
  CHECK_THROWS_WITH(load_run_folder((root / "nowhere").string()),
                    doctest::Contains("no such folder"));

  // A metrics.json that disagrees with predictions.csv is reported, not silently trusted.
  write_run_folder(broken, "vgg16", vgg_wrong, false, false);
  Json summary = read_json_file((broken / "metrics.json").string());
  summary["test"]["accuracy"] = 0.5;
  write_text_file((broken / "metrics.json").string(), summary.dump());
  const RunFolder run = load_run_folder(broken.string(), 0);
  REQUIRE(run.warnings.size() == 1);
  CHECK(contains(run.warnings[0], "differs from 0.900 recomputed from predictions.csv"));
}
