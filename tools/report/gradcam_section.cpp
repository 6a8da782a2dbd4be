// The Grad-CAM panel in the report (see gradcam_section.h).
#include "tools/report/gradcam_section.h"

#include "tools/report/format.h"
#include "tools/report/html_style.h"
#include "tools/run_folder/compare_plan.h"

namespace busi::tools {

namespace {

std::string text_at(const Json& j, const char* key) {
  const Json* v = j.is_object() ? j.find(key) : nullptr;
  return v && v->is_string() ? v->as_string() : "";
}

// Only data: URIs of PNG images reach an <img>: the panel file is ours, but a page never
// inserts a link it did not make.
std::string image_src(const std::string& uri) {
  return uri.rfind("data:image/png;base64,", 0) == 0 ? uri : "";
}

// "malignant 0.83" for one model's view, marked when wrong.
std::string verdict(const Json& view, const std::string& truth) {
  const std::string predicted = text_at(view, "predicted");
  std::string s = predicted;
  if (const Json* p = view.find("probability"); p && p->is_number()) {
    s += ' ';
    s += fmt_metric(p->as_number());
  }
  if (predicted != truth) s += " (wrong)";
  return s;
}

const Json* panel_rows(const Comparison& c) {
  if (!c.cv || !c.cv->gradcam_panel.is_object()) return nullptr;
  const Json* rows = c.cv->gradcam_panel.find("rows");
  return rows && rows->is_array() && !rows->elements().empty() ? rows : nullptr;
}

}  // namespace

std::string gradcam_section_html(const Comparison& c) {
  const Json* rows = panel_rows(c);
  if (!rows) return "";
  const Json& panel = c.cv->gradcam_panel;
  std::vector<std::string> models;
  for (const Json& m : panel.at("models").elements()) models.push_back(m.as_string());
  std::string h =
      "<section id=\"gradcam\"><h2>What the models look at</h2><p>For test images of each class "
      "(one both "
      "models got right, one both got wrong, one they disagree on, where there is one), the "
      "image beside each model's " +
      esc(text_at(panel, "method")) +
      ". A map on the burnt-in text, the calipers or the image border instead of the lesion "
      "says the model learned the wrong cue. An all-blue map means no positive evidence: every "
      "channel the class score rewards is off there (Grad-CAM keeps only the positive part)."
      "</p><table class=\"gradcam\"><thead><tr><th>Image</th>";
  for (const std::string& m : models) h += "<th>" + esc(model_title(m)) + "</th>";
  h += "</tr></thead><tbody>";
  for (const Json& row : rows->elements()) {
    const std::string truth = text_at(row, "class");
    h += "<tr><td><img alt=\"" + esc(text_at(row, "path")) + "\" src=\"" +
         image_src(text_at(row, "image")) + "\"><br><span class=\"note\">" +
         esc(text_at(row, "path")) + "<br>" + esc(truth) + ", " + esc(text_at(row, "kind")) +
         "</span></td>";
    for (const std::string& m : models) {
      const Json* view = row.find(m);
      if (!view || !view->is_object()) {
        h += "<td>" + std::string(kDash) + "</td>";
        continue;
      }
      h += "<td><img alt=\"Grad-CAM of " + esc(model_title(m)) + "\" src=\"" +
           image_src(text_at(*view, "gradcam")) + "\"><br>" + esc(verdict(*view, truth)) + "</td>";
    }
    h += "</tr>";
  }
  return h + "</tbody></table></section>\n";
}

std::string gradcam_section_markdown(const Comparison& c) {
  const Json* rows = panel_rows(c);
  if (!rows) return "";
  std::vector<std::string> models;
  for (const Json& m : c.cv->gradcam_panel.at("models").elements()) models.push_back(m.as_string());
  std::string m =
      "## What the models look at\n\nGrad-CAM maps are in report.html. The images "
      "and what each model predicted:\n\n| Image | class | case |";
  for (const std::string& model : models) {
    m += ' ';
    m += model_title(model);
    m += " |";
  }
  m += "\n|---|---|---|";
  for (size_t i = 0; i < models.size(); ++i) m += "---|";
  m += "\n";
  for (const Json& row : rows->elements()) {
    const std::string truth = text_at(row, "class");
    m += "| " + text_at(row, "path") + " | " + truth + " | " + text_at(row, "kind") + " |";
    for (const std::string& model : models) {
      const Json* view = row.find(model);
      m += ' ';
      m += view && view->is_object() ? verdict(*view, truth) : std::string(kDash);
      m += " |";
    }
    m += "\n";
  }
  return m + "\n";
}

}  // namespace busi::tools
