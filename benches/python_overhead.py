"""The overhead of calling clv from Python: the same rfm() query through datafusion-python (clv
loaded over DataFusion's FFI) and through the `clv sql` binary, in the same run, alternating.

    python benches/python_overhead.py --clv-bin "$CARGO_TARGET_DIR/release/clv" \
        --data benches/data/tx_10000000.parquet --runs 7

Run it with the Python that has the release wheel of clv installed (`maturin build --release`).
Both sides consume the result the same way: the query aggregates rfm()'s columns to one row,
so neither side formats or converts 910k rows (the CLI would print them, Python would build
Arrow tables), and what differs is only the way in: a Python call through the FFI against a
process. Two sources: the file path given to rfm() (clv reads it on its side of the FFI in
both), and the file registered as a table of the session (`ctx.register_parquet` in Python,
`--table` in the CLI), whose scan in Python runs in the host and streams its batches to clv
through the FFI.

The `clv sql` times are process wall times; the process's fixed cost (start, registering the
functions, the one-row output) is measured with `clv sql -q "SELECT 1"` in the same run and
reported, and the ratio is given against the raw and the floor-subtracted CLI time. Python
times are the query alone (`ctx.sql(q).collect()` in a warm session), as a notebook sees them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import datafusion

import clv

SINK = (
    "SELECT min(customer_id) AS first_customer, count(*) AS customers, sum(recency_days) AS recency_days, "
    "sum(frequency) AS frequency, sum(monetary) AS monetary, sum(r) AS r, sum(f) AS f, sum(m) AS m, "
    "max(segment) AS segment FROM rfm('{source}')"
)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[0:3])


def cli_seconds(binary: str, query: str, tables: list[str]) -> tuple[float, str]:
    args = [binary, "sql", "-q", "--format", "csv", query]
    for t in tables:
        args += ["--table", t]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"clv sql failed: {done.stderr}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def python_seconds(ctx: datafusion.SessionContext, query: str) -> tuple[float, str]:
    started = time.perf_counter()
    batches = ctx.sql(query).collect()
    elapsed = time.perf_counter() - started
    row = batches[0].to_pylist()[0]
    return elapsed, ",".join(str(v) for v in row.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clv-bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    path = str(Path(args.data).resolve())
    print(f"load average at start: {loadavg()}", flush=True)
    ctx = clv.context()
    ctx.register_parquet("tx", path)
    variants = [
        ("rfm('<file>')", SINK.format(source=path), []),
        ("rfm('tx'), tx a registered Parquet table", SINK.format(source="tx"), [f"tx={path}"]),
    ]
    floor = []
    results = {name: ([], []) for name, _, _ in variants}
    for run in range(args.runs + 1):  # run 0 warms the page cache and both sides up
        f, _ = cli_seconds(args.clv_bin, "SELECT 1", [])
        for name, query, tables in variants:
            c, c_row = cli_seconds(args.clv_bin, query, tables)
            p, p_row = python_seconds(ctx, query)
            if _normalise(c_row) != _normalise(p_row):
                sys.exit(f"{name}: different results\n  clv sql: {c_row}\n  python:  {p_row}")
            if run > 0:
                results[name][0].append(c)
                results[name][1].append(p)
        if run > 0:
            floor.append(f)
        print(f"run {run}: done (load {loadavg()})", file=sys.stderr, flush=True)
    floor_median = statistics.median(floor)
    print(f"load average at end: {loadavg()}")
    print(f"datafusion {datafusion.__version__}, clv {clv.__version__}, {os.cpu_count()} cores, {args.runs} runs")
    print(f"clv sql process floor (`clv sql -q \"SELECT 1\"`): median {floor_median:.3f} s")
    print()
    print("| source | clv sql median s (process) | clv sql minus floor s | Python median s | Python / clv sql | Python / (clv sql - floor) |")
    print("|---|---|---|---|---|---|")
    for name, (c, p) in results.items():
        cm, pm = statistics.median(c), statistics.median(p)
        net = cm - floor_median
        print(f"| {name} | {cm:.3f} | {net:.3f} | {pm:.3f} | {pm / cm:.3f} | {pm / net:.3f} |")
    for name, (c, p) in results.items():
        print(f"{name}: clv sql {[round(x, 3) for x in c]}, python {[round(x, 3) for x in p]}", file=sys.stderr)


def _normalise(row: str) -> list[str]:
    out = []
    for v in row.split(","):
        try:
            out.append(f"{float(v):.6g}")
        except ValueError:
            out.append(v)
    return out


if __name__ == "__main__":
    main()
