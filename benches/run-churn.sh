#!/usr/bin/env bash
# Side-by-side: clv churn_labels (12 monthly cutoffs) and cohort_retention (monthly) vs the same
# computations in plain DataFusion SQL, on the same Parquet file in one process (alternating
# runs, median of N). Prints a markdown table.
#   benches/run-churn.sh [ROWS=10000000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
runs="${2:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
# The same packages as run.sh: one feature set for the shared dependencies (clv-cli's
# rustyline turns on libc's extra_traits), so the scripts do not rebuild each other's graph.
cargo build --release -q -p clv-benches -p clv-cli --bins
bin="$CARGO_TARGET_DIR/release"
file="benches/data/tx_${rows}.parquet"
[ -f "$file" ] || "$bin/clv-gen" --rows "$rows" --out "$file"
echo "data: $file ($rows transactions), machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
"$bin/churn-side-by-side" "$file" --runs "$runs"
