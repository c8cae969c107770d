#!/usr/bin/env bash
# Renders an afinar report in headless Chromium (Debian's `chromium` package) and takes a
# screenshot, with every network request refused, so what appears is what the file holds by
# itself. Look at the PNG: curves with axes and legends, the confusion heatmap, the sample grid
# with red-framed mistakes.
#
#   tools/report/check_render.sh runs/x/report.html [shot.png] [WIDTH,HEIGHT]
#
# Defaults: shot.png beside the report, 1280,2000. Exit 1 when Chromium is missing, fails, or
# writes no image. Install it with `apt-get install chromium` (not needed to build or test).
set -euo pipefail

report=${1:?usage: $0 REPORT.html [SHOT.png] [WIDTH,HEIGHT]}
shot=${2:-"${report%.html}.png"}
size=${3:-1280,2000}
[[ -f $report ]] || { echo "check_render: no file $report" >&2; exit 1; }

chromium=$(command -v chromium || command -v chromium-browser || true)
[[ -n $chromium ]] || { echo "check_render: chromium not found (apt-get install chromium)" >&2; exit 1; }

# --no-sandbox: Chromium refuses to run as root with its sandbox (containers, CI).
# The resolver rule makes any http(s) reference fail, so a report that needed the network would
# show the gap in the screenshot.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$shot"
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" \
  --window-size="$size" --screenshot="$(realpath -m "$shot")" \
  "file://$(realpath "$report")" >"$profile/log" 2>&1 || {
  cat "$profile/log" >&2
  echo "check_render: chromium failed" >&2
  exit 1
}
[[ -s $shot ]] || { cat "$profile/log" >&2; echo "check_render: no screenshot written" >&2; exit 1; }
echo "check_render: $shot ($(stat -c %s "$shot") bytes, window $size)"
