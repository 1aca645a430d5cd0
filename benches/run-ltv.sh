#!/usr/bin/env bash
# Model fits only: clv BG/NBD against Python lifetimes on CDNOW and the 100k/1M simulated
# summaries, plus clv's Pareto/NBD fits and scoring throughput. A shortcut for the harness.
#   benches/run-ltv.sh [RUNS=5]
exec "$(dirname "$0")/run.sh" --skip rfm,customers,memory --no-docs --runs "${1:-5}"
