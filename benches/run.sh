#!/usr/bin/env bash
# The end-to-end benchmark harness: RFM (clv rfm(), plain DataFusion SQL, DuckDB) on 1M/10M/100M
# transactions with int and string ids, sorted and unsorted; time against customers at fixed rows;
# the 100M run under a 1 GiB memory limit; BG/NBD fits against Python lifetimes. Installs the
# Python packages it needs with pip, prints markdown tables and updates docs/benchmarks.md.
#   benches/run.sh [harness options; --help lists them]
#   e.g. benches/run.sh --rows 10000000 --ids int --order unsorted --skip customers,memory
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
cargo build --release -q -p clv-benches -p clv-cli --bins
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb
python3 -c "import lifetimes" 2>/dev/null || pip install -q lifetimes
exec python3 benches/harness.py "$@"
