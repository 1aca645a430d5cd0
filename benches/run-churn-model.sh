#!/usr/bin/env bash
# The trained churn model on a generated file: clv's feature kernel, churn_features, the
# logistic fit and scoring, churn_model, churn_risk and churn_contacts (churn-model-bench), next
# to DuckDB computing the same activity features (churn_duckdb.py). Prints markdown.
#   benches/run-churn-model.sh [ROWS=10000000] [RUNS=3]
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
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb
echo "data: $file ($rows transactions), machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/churn-model-bench" "$file" --runs "$runs"
read -r n secs < <(python3 benches/churn_duckdb.py "$file" "$runs")
echo "| activity features, DuckDB (the same definitions in SQL) | $n | $secs |"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
