// The grouping sentence of the report's split section (see split_facts.h).
#include "tools/report/split_facts.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace busi::tools {

namespace {

long long count(const Json& j, const char* key) {
  return j.contains(key) ? std::llround(j.at(key).as_number()) : 0;
}

}  // namespace

std::string grouping_sentence(const RunFolder& run) {
  std::string text;
  if (!run.config.contains("grouping")) {
    text =
        "The run records no grouping (made before near-duplicate detection: only "
        "byte-identical files were kept together).";
  } else {
    const Json& g = run.config.at("grouping");
    const std::string method = g.at("method").as_string();
    char head[300];
    if (method == "near-duplicates" && g.contains("combined_plain"))
      std::snprintf(head, sizeof head,
                    "Grouped by near-duplicates (fine >= %.2f, or plain >= %.2f under any of five "
                    "thumbnail filters, or plain >= %.2f with fine >= %.2f)",
                    g.at("fine_threshold").as_number(), g.at("plain_threshold").as_number(),
                    g.at("combined_plain").as_number(), g.at("combined_fine").as_number());
    else if (method == "near-duplicates")
      std::snprintf(head, sizeof head, "Grouped by near-duplicates (fine >= %.2f or plain >= %.2f)",
                    g.at("fine_threshold").as_number(), g.at("plain_threshold").as_number());
    else
      std::snprintf(head, sizeof head, "Grouped by byte-identical files only");
    char rest[300];
    std::snprintf(
        rest, sizeof rest,
        ": %lld groups of 2 or more images (%lld images); %lld label conflicts (%lld "
        "images), %s.",
        count(g, "groups"), count(g, "grouped_images"), count(g, "label_conflicts"),
        count(g, "conflict_images"),
        g.contains("label_conflicts_policy") && g.at("label_conflicts_policy").as_string() == "keep"
            ? "kept, each image with its folder's label"
            : "excluded from training and evaluation");
    text = std::string(head) + rest;
  }
  if (!run.split) return text;
  const CsvTable& split = *run.split;
  const int subset = split.column_index("subset"), group = split.column_index("group");
  if (subset < 0) return text;
  int64_t excluded = 0;
  std::map<std::string, std::set<std::string>> subsets_of_group;
  for (const auto& row : split.rows) {
    const std::string& s = row[static_cast<size_t>(subset)];
    if (s == "excluded") {
      ++excluded;
      continue;
    }
    if (group >= 0) subsets_of_group[row[static_cast<size_t>(group)]].insert(s);
  }
  int64_t straddling = 0;
  for (const auto& [name, subsets] : subsets_of_group) straddling += subsets.size() > 1;
  text += " split.csv: " + std::to_string(excluded) + " images excluded; ";
  text += group < 0         ? "no group column (written before groups)."
          : straddling == 0 ? "no group in two subsets."
                            : std::to_string(straddling) + " groups in two subsets.";
  return text;
}

}  // namespace busi::tools
