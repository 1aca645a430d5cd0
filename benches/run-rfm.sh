#!/usr/bin/env bash
# RFM on one size only (int ids, unsorted): clv rfm(), plain DataFusion SQL and DuckDB, each in
# its own process with its peak RSS. A shortcut for the harness.
#   benches/run-rfm.sh [ROWS=10000000] [RUNS=5]
exec "$(dirname "$0")/run.sh" --rows "${1:-10000000}" --ids int --order unsorted \
  --skip shapes,customers,memory,fits --no-docs --runs "${2:-5}"
