#!/usr/bin/env bash
# scripts/report_screenshot.sh REPORT_HTML OUT_PNG [SECTION_ID] [WIDTHxHEIGHT]
#   A headless Chromium screenshot of a compare report, as a reader's browser draws it. With
#   SECTION_ID (e.g. gradcam), a copy of the page with every other section hidden is shot, so the
#   section is in view whatever its position. Needs chromium (apt-get install chromium).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,5p' "$0"; exit 2; }
report=$1 out=$2 section=${3:-} size=${4:-1000x1900}
command -v chromium >/dev/null || { echo "report_screenshot: chromium missing (apt-get install chromium)" >&2; exit 1; }
page=$report
if [ -n "$section" ]; then
  page=$(mktemp --suffix=.html)
  trap 'rm -f "$page"' EXIT
  sed "s|</head>|<style>main > section:not(#$section), header, nav {display:none !important}</style></head>|" \
    "$report" > "$page"
fi
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${size/x/,}" --screenshot="$out" "file://$(realpath "$page")" 2>/dev/null
echo "report_screenshot: $out"
