#!/usr/bin/env bash
# Side-by-side RFM on one Parquet file, each variant in its own process (so its peak RSS is
# its own): clv rfm() (quantile and ntile), the same result in plain DataFusion SQL, and the
# plain SQL in DuckDB (Python duckdb, installed with pip if missing; threads = cores).
# Median of RUNS after a warm-up. Prints a markdown table.
#   benches/run-rfm.sh [ROWS=10000000] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
runs="${2:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
cargo build --release -q -p clv-benches --bins
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb
bin="$CARGO_TARGET_DIR/release"
file="benches/data/tx_${rows}.parquet"
[ -f "$file" ] || "$bin/clv-gen" --rows "$rows" --out "$file"
echo "data: $file ($rows transactions), machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)')"
measure() { # name, command... -> "name rows seconds rss_kib"
  local name="$1"; shift
  local out rss
  out=$(/usr/bin/time -f "%M" -o /tmp/clv-bench-rss "$@")
  rss=$(tail -1 /tmp/clv-bench-rss)
  [ -n "$out" ] || { echo "$name failed" >&2; exit 1; }
  echo "$name|$out|$rss"
}
results=(
  "$(measure "clv rfm() quantile (default)" "$bin/rfm-side-by-side" "$file" --runs "$runs" --only 0)"
  "$(measure "clv rfm() ntile" "$bin/rfm-side-by-side" "$file" --runs "$runs" --only 1)"
  "$(measure "plain DataFusion SQL (GROUP BY + 3 NTILE + CASE)" "$bin/rfm-side-by-side" "$file" --runs "$runs" --only 2)"
  "$(measure "DuckDB, the same SQL" python3 benches/rfm_duckdb.py "$file" "$runs")"
)
plain=$(echo "${results[2]}" | cut -d'|' -f2 | cut -d' ' -f2)
duck=$(echo "${results[3]}" | cut -d'|' -f2 | cut -d' ' -f2)
echo "| variant | customers | median s ($runs runs) | peak RSS MiB | vs plain DataFusion SQL | vs DuckDB |"
echo "|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  IFS='|' read -r name out rss <<<"$r"
  read -r n s <<<"$out"
  awk -v name="$name" -v n="$n" -v s="$s" -v rss="$rss" -v p="$plain" -v d="$duck" \
    'BEGIN { printf "| %s | %s | %.3f | %d | %.2f | %.2f |\n", name, n, s, rss / 1024, s / p, s / d }'
done
