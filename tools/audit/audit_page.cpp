// The audit page's sections and its histogram (see audit_page.h). Plain HTML and inline SVG: no
// script, no external file.
#include "tools/audit/audit_page.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "tools/report/html_style.h"

namespace busi::tools {

namespace {

std::string fixed(double v, int decimals = 2) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// The best similarities of each pair inside a group, to caption it: (a, b) -> pair.
std::map<std::pair<int64_t, int64_t>, data::ComparedPair> pairs_by_ids(
    const data::NearDuplicates& found) {
  std::map<std::pair<int64_t, int64_t>, data::ComparedPair> by_ids;
  for (const data::ComparedPair& p : found.compared) by_ids[{p.a, p.b}] = p;
  return by_ids;
}

std::string figure(const AuditPage& page, int64_t id) {
  const data::Sample& s = page.index->samples[id];
  const std::string& cls = page.index->classes[s.label];
  return "<figure><img src=\"" + page.thumbnails[id] + "\" alt=\"" + esc(s.relative_path) +
         "\"><figcaption><span class=\"cls cls" + std::to_string(s.label % 3) + "\">" + esc(cls) +
         "</span> " + esc(s.relative_path.substr(s.relative_path.find('/') + 1)) +
         "</figcaption></figure>";
}

std::string group_html(const AuditPage& page, const std::vector<int64_t>& group, bool conflict,
                       const std::map<std::pair<int64_t, int64_t>, data::ComparedPair>& by_ids) {
  std::string h = std::string("<div class=\"group") + (conflict ? " conflict" : "") + "\">";
  for (int64_t id : group) h += figure(page, id);
  std::string links;
  for (size_t i = 0; i < group.size(); ++i)
    for (size_t j = i + 1; j < group.size(); ++j) {
      const auto found = by_ids.find({group[i], group[j]});
      if (found == by_ids.end() || !found->second.near_duplicate) continue;
      const data::ComparedPair& p = found->second;
      links += (links.empty() ? "" : "; ") + std::to_string(i + 1) + "~" + std::to_string(j + 1) +
               " fine " + fixed(p.fine) + ", plain " + fixed(p.plain);
    }
  if (links.empty()) links = "byte-identical files";
  return h + "<p class=\"links\">" + links + "</p></div>\n";
}

// Bars of a histogram over [lo, hi) in `bins` bins, with vertical lines at `marks`.
std::string histogram_svg(const std::vector<float>& values, double lo, double hi, int bins,
                          const std::vector<std::pair<double, std::string>>& marks,
                          const std::string& x_label) {
  std::vector<int64_t> counts(bins, 0);
  for (float v : values) {
    if (v < lo) continue;
    const int b = std::min(bins - 1, static_cast<int>((v - lo) / (hi - lo) * bins));
    ++counts[b];
  }
  const int64_t top = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  const int W = 640, H = 220, left = 44, bottom = 36, plot_w = W - left - 12,
            plot_h = H - bottom - 14;
  auto x_of = [&](double v) { return left + (v - lo) / (hi - lo) * plot_w; };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(W) +
                  "\" height=\"" + std::to_string(H) +
                  "\" font-size=\"11\" font-family=\"sans-serif\">";
  for (int b = 0; b < bins; ++b) {
    const double h = double(counts[b]) / top * plot_h;
    s += "<rect x=\"" + fixed(x_of(lo + (hi - lo) * b / bins) + 0.5, 1) + "\" y=\"" +
         fixed(14 + plot_h - h, 1) + "\" width=\"" + fixed(double(plot_w) / bins - 1, 1) +
         "\" height=\"" + fixed(h, 1) + "\" fill=\"#6b8fb5\"><title>" +
         fixed(lo + (hi - lo) * b / bins) + " to " + fixed(lo + (hi - lo) * (b + 1) / bins) + ": " +
         std::to_string(counts[b]) + " images</title></rect>";
    if (counts[b] > 0)
      s += "<text x=\"" + fixed(x_of(lo + (hi - lo) * (b + 0.5) / bins), 1) + "\" y=\"" +
           fixed(12 + plot_h - h, 1) + "\" text-anchor=\"middle\" font-size=\"9\">" +
           std::to_string(counts[b]) + "</text>";
  }
  s += "<line x1=\"" + std::to_string(left) + "\" y1=\"" + std::to_string(14 + plot_h) +
       "\" x2=\"" + std::to_string(left + plot_w) + "\" y2=\"" + std::to_string(14 + plot_h) +
       "\" stroke=\"#333\"/>";
  for (int t = 0; t <= 10; ++t) {
    const double v = lo + (hi - lo) * t / 10;
    s += "<text x=\"" + fixed(x_of(v), 1) + "\" y=\"" + std::to_string(14 + plot_h + 14) +
         "\" text-anchor=\"middle\">" + fixed(v, (hi - lo) / 10 < 0.1 ? 2 : 1) + "</text>";
  }
  for (const auto& [v, label] : marks)
    s += "<line x1=\"" + fixed(x_of(v), 1) + "\" y1=\"10\" x2=\"" + fixed(x_of(v), 1) + "\" y2=\"" +
         std::to_string(14 + plot_h) +
         "\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>"
         "<text x=\"" +
         fixed(x_of(v) + 4, 1) + "\" y=\"22\" fill=\"#d62728\">" + esc(label) + "</text>";
  s += "<text x=\"" + std::to_string(left + plot_w / 2) + "\" y=\"" + std::to_string(H - 4) +
       "\" text-anchor=\"middle\">" + esc(x_label) + "</text></svg>";
  return s;
}

const char* kAuditStyle =
    ".group{border:1px solid #ccc;border-radius:6px;padding:6px;margin:8px 0;display:flex;"
    "flex-wrap:wrap;gap:6px;align-items:flex-start}.group.conflict{border:2px solid #d62728;"
    "background:#fff5f5}figure{margin:0;width:120px;font-size:11px}figure img{width:120px;"
    "height:120px;display:block;image-rendering:auto}.links{flex-basis:100%;margin:2px 0;"
    "font-size:11px;color:#555}.cls{padding:0 4px;border-radius:3px;color:#fff}.cls0{background:"
    "#2ca02c}.cls1{background:#d62728}.cls2{background:#1f77b4}";

}  // namespace

std::vector<data::ComparedPair> closest_pairs_apart(const data::NearDuplicates& found, int count) {
  std::vector<data::ComparedPair> apart;
  for (const data::ComparedPair& p : found.compared)
    if (!p.near_duplicate) apart.push_back(p);
  std::sort(apart.begin(), apart.end(), [](const auto& p, const auto& q) {
    return p.fine != q.fine ? p.fine > q.fine : std::pair(p.a, p.b) < std::pair(q.a, q.b);
  });
  if (static_cast<int>(apart.size()) > count) apart.resize(count);
  return apart;
}

void nearest_neighbours(const data::NearDuplicates& found, int64_t images, std::vector<float>& fine,
                        std::vector<float>& plain) {
  fine.assign(images, -1.0f);
  plain.assign(images, -1.0f);
  for (const data::ComparedPair& p : found.compared)
    for (int64_t i : {p.a, p.b}) {
      fine[i] = std::max(fine[i], p.fine);
      plain[i] = std::max(plain[i], p.plain);
    }
}

std::vector<int64_t> audit_page_images(const AuditPage& page) {
  std::vector<char> shown(page.index->size(), 0);
  for (const auto& group : page.index->duplicate_groups)
    for (int64_t id : group) shown[id] = 1;
  for (const data::ComparedPair& p : closest_pairs_apart(page.grouping->found, page.closest_apart))
    shown[p.a] = shown[p.b] = 1;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < page.index->size(); ++i)
    if (shown[i]) ids.push_back(i);
  return ids;
}

std::string render_audit_page(const AuditPage& page) {
  const data::DatasetIndex& index = *page.index;
  const data::GroupingReport& g = *page.grouping;
  const auto by_ids = pairs_by_ids(g.found);
  std::string h =
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>audit_data: " + esc(index.root) +
      "</title><style>" + kStyle + kAuditStyle + "</style></head><body>\n<h1>Duplicates in " +
      esc(index.root) + "</h1>\n<p>" + esc(index.summary()) + "</p><p><b>Grouping:</b> " +
      esc(g.summary()) + "</p>\n";
  if (page.leaks)
    h += "<p><b>Split " + esc(page.split_csv) + ":</b> " + esc(page.leaks->summary()) + "</p>\n";

  std::vector<float> fine, plain;
  nearest_neighbours(g.found, index.size(), fine, plain);
  const int64_t alone = std::count(fine.begin(), fine.end(), -1.0f);
  h += "<section><h2>Nearest-neighbour similarity</h2><p>Per image, the highest similarity to "
       "any other image it was compared with (LSH candidates whose 16 px keys correlate at " +
       fixed(g.near.gate) + " or more; " + std::to_string(alone) +
       " images had no such candidate and are not counted). Fine: the aligned fine-detail "
       "correlation; pairs at or above its threshold are near-duplicates, as are pairs whose "
       "plain 32 px thumbnails correlate at " +
       fixed(g.near.plain_threshold) +
       " or more (the highest over five resampling filters; with few images every pair is "
       "compared by this measure, past the gate or not) and pairs at " +
       fixed(g.near.combined_plain) + " plain and " + fixed(g.near.combined_fine) +
       " fine together.</p>" +
       histogram_svg(fine, -0.2, 1.0, 48,
                     {{g.near.fine_threshold, "threshold " + fixed(g.near.fine_threshold)}},
                     "fine similarity to the nearest neighbour") +
       histogram_svg(plain, 0.5, 1.0, 50,
                     {{g.near.plain_threshold, "threshold " + fixed(g.near.plain_threshold)}},
                     "plain 32 px thumbnail correlation to the nearest neighbour") +
       "</section>\n";

  const std::vector<int64_t> conflicts = data::label_conflicts(index);
  std::vector<char> is_conflict(index.duplicate_groups.size(), 0);
  for (int64_t c : conflicts) is_conflict[c] = 1;
  h += "<section><h2>Label conflicts: " + std::to_string(conflicts.size()) +
       "</h2><p>Groups whose images are filed under different classes. By default they are left "
       "out of training and evaluation (<code>--label-conflicts keep</code> keeps them, each image "
       "with the label of its folder).</p>\n";
  for (int64_t c : conflicts) h += group_html(page, index.duplicate_groups[c], true, by_ids);
  h += "</section>\n";

  std::vector<int64_t> order;
  for (size_t k = 0; k < index.duplicate_groups.size(); ++k)
    if (!is_conflict[k]) order.push_back(static_cast<int64_t>(k));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return index.duplicate_groups[a].size() > index.duplicate_groups[b].size();
  });
  h += "<section><h2>Groups: " + std::to_string(order.size()) +
       " more</h2><p>Largest first. Every split keeps a group in one subset.</p>\n";
  for (int64_t k : order) h += group_html(page, index.duplicate_groups[k], false, by_ids);
  h += "</section>\n";

  h += "<section><h2>The closest pairs left apart</h2><p>The " +
       std::to_string(page.closest_apart) +
       " most similar pairs (fine) that are not near-duplicates: what the threshold keeps "
       "apart.</p>\n";
  for (const data::ComparedPair& p : closest_pairs_apart(g.found, page.closest_apart))
    h += "<div class=\"group\">" + figure(page, p.a) + figure(page, p.b) +
         "<p class=\"links\">fine " + fixed(p.fine) + ", plain " + fixed(p.plain) + "</p></div>\n";
  h += "</section>\n</body></html>\n";
  return h;
}

}  // namespace busi::tools
