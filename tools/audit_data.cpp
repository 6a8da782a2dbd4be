// audit_data: the groups of near-duplicate images of a data folder and its label conflicts
// (one scan filed under two classes), printed and shown on one self-contained HTML page with the
// thumbnails side by side and the histogram of nearest-neighbour similarity; with --split-csv,
// whether that split leaks (validation or test images with a near-duplicate in training).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "data/dataset.h"
#include "data/grouping.h"
#include "data/split.h"
#include "tools/audit/audit_page.h"
#include "tools/audit/leak_check.h"
#include "tools/audit/png_data_uri.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/formats/text_file.h"
#include "tools/run_folder/run_dir.h"

using namespace busi;
using namespace busi::tools;

namespace {

struct AuditSettings {
  std::string data;
  std::string out;
  std::string group_duplicates = "near";
  float near_threshold = 0.40f;
  std::string split_csv;
  bool skip_bad = false;
  int64_t thumbnail = 120;
};

std::string names(const data::DatasetIndex& index, const std::vector<int64_t>& group) {
  std::string text;
  for (int64_t id : group) text += " '" + index.samples[id].relative_path + "'";
  return text;
}

// The nearest-neighbour histogram as text: one row per bin of 0.1 from -0.2 to 1.
void print_histogram(const std::vector<float>& nearest, float threshold) {
  std::vector<int64_t> counts(12, 0);
  int64_t none = 0;
  for (float v : nearest) {
    if (v == -1.0f) {
      ++none;
      continue;
    }
    ++counts[std::clamp(static_cast<int>(std::floor((v + 0.2f) / 0.1f)), 0, 11)];
  }
  std::printf("nearest-neighbour fine similarity (threshold %.2f):\n", threshold);
  for (int b = 0; b < 12; ++b)
    std::printf("  [%5.2f, %5.2f) %5lld %s\n", -0.2 + 0.1 * b, -0.1 + 0.1 * b,
                static_cast<long long>(counts[b]),
                std::string(std::min<int64_t>(counts[b], 60), '#').c_str());
  std::printf("  no candidate past the key gate: %lld\n", static_cast<long long>(none));
}

int run(int argc, char** argv) {
  AuditSettings s;
  s.data = std::filesystem::path(BUSI_SOURCE_DIR "/../shared/busi").lexically_normal().string();
  CommandLine cli("audit_data",
                  "Finds the groups of near-duplicate images of a data folder (one sub-folder "
                  "per class) and its label conflicts, prints them and writes OUT/audit.html "
                  "(thumbnails of every group, conflicts first, and the histogram of "
                  "nearest-neighbour similarity) and OUT/pairs.csv (every compared pair).");
  cli.add("--data", &s.data, "DIR", "dataset folder, one sub-folder of images per class");
  cli.add("--out", &s.out, "DIR", "folder for audit.html and pairs.csv");
  cli.set_default_text("--out", "runs/audit_data-<YYYYmmdd-HHMMSS>");
  cli.add_choice("--group-duplicates", &s.group_duplicates, {"near", "exact"},
                 "near: near-duplicates and byte-identical files; exact: byte-identical only");
  cli.add("--near-threshold", &s.near_threshold, "F",
          "fine similarity from which two images are one scan (as the trainers' flag)");
  cli.add("--split-csv", &s.split_csv, "PATH",
          "also check this split: validation/test images with a near-duplicate in training");
  cli.add_switch("--skip-bad", &s.skip_bad, "skip images that cannot be decoded");
  cli.add("--thumbnail", &s.thumbnail, "PX", "side of the page's thumbnails");
  if (!cli.parse(argc, argv)) return 0;
  if (s.out.empty()) s.out = default_run_dir("audit_data");
  std::filesystem::create_directories(s.out);

  data::ScanOptions scan;
  scan.skip_bad = s.skip_bad;
  data::DatasetIndex index = data::scan_folder(s.data, scan);
  data::GroupingOptions options;
  options.near_duplicates = s.group_duplicates == "near";
  options.near.fine_threshold = s.near_threshold;
  const double start = omp_get_wtime();
  const std::vector<data::ImageSignature> signatures = data::compute_signatures(index);
  const double decoded = omp_get_wtime();
  data::GroupingReport report = data::group_duplicates(index, signatures, options);
  report.seconds += decoded - start;
  std::printf(
      "data: %s\ngroups: %s (decoding and signatures %.2f s, comparisons %.2f s; %lld LSH "
      "candidates, %lld compared)\n",
      index.summary().c_str(), report.summary().c_str(), decoded - start,
      report.seconds - (decoded - start), static_cast<long long>(report.found.candidates),
      static_cast<long long>(report.found.compared.size()));

  const std::vector<int64_t> conflicts = data::label_conflicts(index);
  std::printf("\nlabel conflicts: %zu\n", conflicts.size());
  for (int64_t c : conflicts)
    std::printf("  conflict:%s\n", names(index, index.duplicate_groups[c]).c_str());
  std::printf("\ngroups: %zu\n", index.duplicate_groups.size());
  for (size_t g = 0; g < index.duplicate_groups.size(); ++g)
    std::printf("  group %zu (%zu):%s\n", g + 1, index.duplicate_groups[g].size(),
                names(index, index.duplicate_groups[g]).c_str());
  std::printf("\n");
  print_histogram(report.found.nearest_fine, options.near.fine_threshold);

  AuditPage page;
  page.index = &index;
  page.grouping = &report;
  if (!s.split_csv.empty()) {
    const data::Split split = data::read_split_csv(s.split_csv, index);
    page.leaks = check_split_leaks(index, signatures, split, options.near);
    page.split_csv = s.split_csv;
    std::printf("\nsplit %s: %s\n", s.split_csv.c_str(), page.leaks->summary().c_str());
    for (const std::string& example : page.leaks->examples) std::printf("  %s\n", example.c_str());
  }

  std::string pairs = "a,b,key,plain,fine,near_duplicate\n";
  for (const data::ComparedPair& p : report.found.compared) {
    char row[64];
    std::snprintf(row, sizeof row, ",%.4f,%.4f,%.4f,%d\n", p.key, p.plain, p.fine,
                  p.near_duplicate ? 1 : 0);
    pairs += "\"" + index.samples[p.a].relative_path + "\",\"" + index.samples[p.b].relative_path +
             "\"" + row;
  }
  write_text_file(s.out + "/pairs.csv", pairs);

  page.thumbnails.assign(index.size(), "");
  const std::vector<int64_t> shown = audit_page_images(page);
#pragma omp parallel for schedule(dynamic)
  for (int64_t k = 0; k < static_cast<int64_t>(shown.size()); ++k) {
    const int64_t id = shown[k];
    page.thumbnails[id] = png_data_uri(data::resize_image(
        data::decode_image_file(index.samples[id].path, 1), s.thumbnail, s.thumbnail));
  }
  write_text_file(s.out + "/audit.html", render_audit_page(page));
  std::printf("\nwrote %s/audit.html and %s/pairs.csv\n", s.out.c_str(), s.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("audit_data", run, argc, argv); }
