#!/usr/bin/env bash
# Model fits: clv against Python lifetimes (installed with pip here) on the same summaries, in
# one run: CDNOW and a seeded 100k-customer BG/NBD simulation (clv also fits 1M).
#   benches/run-ltv.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clv-target}"
cargo build --release -q -p clv-cli -p clv-benches --bins
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
"$CARGO_TARGET_DIR/release/ltv-fit-bench" --out-dir benches/data --runs "$runs"
python3 -c "import lifetimes" 2>/dev/null || pip install --quiet lifetimes
python3 - "$runs" <<'PY'
import sys, time, statistics
import pandas as pd
from lifetimes import BetaGeoFitter
runs = int(sys.argv[1])
print("| data | customers | Python lifetimes BetaGeoFitter | median fit s | r | alpha | a | b |")
print("|---|---|---|---|---|---|---|---|")
for name, n_runs in [("cdnow", runs), ("sim_100000", runs)]:
    d = pd.read_csv(f"benches/data/btyd_{name}.csv")
    times = []
    for _ in range(n_runs):
        t = time.perf_counter()
        bg = BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
        times.append(time.perf_counter() - t)
    p = bg.params_
    print(f"| {name} | {len(d)} | lifetimes | {statistics.median(times):.4f} | {p['r']:.4f} | {p['alpha']:.4f} | {p['a']:.4f} | {p['b']:.4f} |")
PY
