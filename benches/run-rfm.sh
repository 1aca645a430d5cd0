#!/usr/bin/env bash
# Side-by-side: clv rfm() vs the same computation in plain DataFusion SQL, on the same Parquet
# file in one process (alternating runs, median of N). Prints a markdown table.
#   benches/run-rfm.sh [ROWS=10000000] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
runs="${2:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
cargo build --release -q -p clv-cli -p clv-benches --bins
bin="$CARGO_TARGET_DIR/release"
file="benches/data/tx_${rows}.parquet"
[ -f "$file" ] || "$bin/clv-gen" --rows "$rows" --out "$file"
echo "data: $file ($rows transactions), machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
"$bin/rfm-side-by-side" "$file" --runs "$runs"
