#!/usr/bin/env bash
# The report screenshots of docs/cli.md: the CDNOW report's first screen at 1280 px, and its
# first two printed pages (Chromium's print to PDF, rasterised by pdftoppm from poppler-utils).
# Usage: docs/report/screenshots.sh [path/to/clv]   (default: clv on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
clv=${1:-clv}
out=docs/report
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$clv" report --out "$tmp/cdnow.html" --quiet
chrome=(chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars "--user-data-dir=$tmp/profile")
"${chrome[@]}" --window-size=1280,2200 "--screenshot=$out/summary-1280.png" "file://$tmp/cdnow.html" 2>/dev/null
"${chrome[@]}" --no-pdf-header-footer "--print-to-pdf=$tmp/cdnow.pdf" "file://$tmp/cdnow.html" 2>/dev/null
pdftoppm -png -r 70 -f 1 -l 2 "$tmp/cdnow.pdf" "$tmp/page"
for i in 1 2; do
  cp "$tmp/page-$i.png" "$out/print-page-$i.png" 2>/dev/null || cp "$tmp/page-0$i.png" "$out/print-page-$i.png"
done
