#!/usr/bin/env bash
# The shapes users have (issue 19), at one size: Date32 and Timestamp µs / ms with and without a
# time zone, int and string ids, unsorted and sorted, zstd; `clv rfm FILE --out out.parquet` (the
# CLI) and rfm() next to DuckDB's and plain DataFusion's SQL, in one run. Prints the table and
# updates its block in docs/benchmarks.md (add --no-docs to print only).
#   benches/run-shapes.sh [ROWS=10000000] [RUNS=5] [harness options]
rows="${1:-10000000}"; runs="${2:-5}"; shift $(( $# < 2 ? $# : 2 ))
exec "$(dirname "$0")/run.sh" --shape-rows "$rows" --skip rfm,customers,memory,fits --runs "$runs" "$@"
