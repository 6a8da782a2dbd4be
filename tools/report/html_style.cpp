// The style sheet of report.html and its small markup helpers (see html_style.h).
#include "tools/report/html_style.h"

#include "tools/report/svg_plot.h"

namespace busi::tools {

const char* const kStyle = R"css(
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
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px 26px; }
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

}  // namespace busi::tools
