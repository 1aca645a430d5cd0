#!/usr/bin/env bash
# Issue 18's segment workloads, side by side in one run: clv (segment_evaluate at 12 monthly
# cutoffs next to one rfm(), segment_tune over two 40-configuration grids at 6 cutoffs) and
# plain DataFusion SQL in one process, the same in DuckDB SQL, and k-means (k = 8 on 1M
# customers x 3 features) against scikit-learn. Prints the tables for docs/benchmarks.md and the
# load average before and after (the machine is shared).
#   benches/run-segments.sh [ROWS=10000000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
runs="${2:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
# The same packages as run.sh: one feature set for the shared dependencies (clv-cli's
# rustyline turns on libc's extra_traits), so the scripts do not rebuild each other's graph.
cargo build --release -q -p clv-benches -p clv-cli --bins
cargo build --release -q -p clv-models --example kmeans_speed
bin="$CARGO_TARGET_DIR/release"
mkdir -p benches/data
file="benches/data/tx_${rows}.parquet"
[ -f "$file" ] || "$bin/clv-gen" --rows "$rows" --out "$file"
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb
echo "data: $file ($rows transactions), machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/segment-side-by-side" --duckdb-grid benches/data/duckdb_grid.tsv
"$bin/segment-side-by-side" "$file" --runs "$runs"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "DuckDB $(python3 -c 'import duckdb; print(duckdb.__version__)'): workload rows median_s"
python3 benches/segment_duckdb.py "$file" "$runs" benches/data/duckdb_grid.tsv
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 crates/clv-models/examples/kmeans_speed.py --customers 1000000 --k 8 --runs "$runs" --out benches/data/kmeans_rfm.f64
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
