#!/usr/bin/env python3
"""k-means speed, clv against scikit-learn, in one run (issue 18: k = 8 on 1M customers x 3
features in <= 0.5 s on 2 cores).

1. Generates per-customer RFM for N customers (seeded numpy; a BG/NBD-like process: a purchase
   rate per customer, a dropout time, gamma order values) and writes it as three little-endian
   float64 columns (recency_days, frequency, monetary) to a raw file.
2. Builds the default features, log1p(recency_days), ln(frequency), log1p(monetary),
   standardised (exact means), and times scikit-learn's KMeans(k, n_init=1) and, once,
   KMeans(k, n_init=10) (also the quality reference).
3. Runs `cargo run --release -p clv-models --example kmeans_speed` on the same file: clv's
   KMeans::fit (standardisation included) with the default n_init = 10 and with n_init = 1.

Median wall time of --runs runs (after one warm-up for clv). Usage, from the repository root:
    python3 crates/clv-models/examples/kmeans_speed.py [--customers 1000000] [--k 8] [--runs 5]
"""

import argparse
import json
import math
import os
import pathlib
import statistics
import subprocess
import time

import numpy as np
from sklearn.cluster import KMeans

ROOT = pathlib.Path(__file__).resolve().parents[3]


def generate(n: int, seed: int = 18) -> np.ndarray:
    rng = np.random.default_rng(seed)
    horizon = 730.0
    age = rng.uniform(1.0, horizon, n)  # days from the first purchase to the as-of date
    rate = rng.gamma(0.6, 1.0 / 60.0, n)  # purchases per day while alive
    alive = np.minimum(rng.exponential(250.0, n), age)
    repeats = rng.poisson(rate * alive)
    frequency = 1 + repeats
    # The last purchase is the latest of the repeat times, uniform on (0, alive).
    last = np.where(repeats > 0, alive * rng.beta(np.maximum(repeats, 1), 1.0), 0.0)
    recency = np.floor(age - last)
    order_value = rng.gamma(4.0, 6.0, n)  # a customer's mean order value
    monetary = np.round(rng.gamma(6.0 * frequency, order_value / 6.0), 2)
    return np.column_stack([recency, frequency.astype(float), monetary])


def features(rfm: np.ndarray) -> np.ndarray:
    raw = np.column_stack([np.log1p(rfm[:, 0]), np.log(rfm[:, 1]), np.log1p(np.maximum(rfm[:, 2], 0.0))])
    mean = np.array([math.fsum(c) / len(c) for c in raw.T])
    sd = np.array([math.sqrt(math.fsum((c - m) ** 2) / len(c)) for c, m in zip(raw.T, mean)])
    return (raw - mean) / sd


def timed(f, runs):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sklearn-runs", type=int, default=3)
    ap.add_argument("--skip-sklearn-n-init-10", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "target" / "kmeans_speed_rfm.f64"))
    a = ap.parse_args()

    rfm = generate(a.customers)
    path = pathlib.Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(rfm.T).astype("<f8").tofile(path)
    x = features(rfm)
    print(f"data: {a.customers} customers x 3 features, k = {a.k}; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"frequency 1: {np.mean(rfm[:, 1] == 1):.1%}, median recency {np.median(rfm[:, 0]):.0f} d, "
          f"median monetary {np.median(rfm[:, 2]):.2f}")

    rows = []
    med, times, km = timed(lambda: KMeans(n_clusters=a.k, n_init=1, random_state=0).fit(x), a.sklearn_runs)
    rows.append(("scikit-learn KMeans(n_init=1)", med, times, km.inertia_, km.n_iter_))
    sk10 = None
    if not a.skip_sklearn_n_init_10:
        med10, times10, km10 = timed(lambda: KMeans(n_clusters=a.k, n_init=10, random_state=0).fit(x), 1)
        sk10 = km10.inertia_
        rows.append(("scikit-learn KMeans(n_init=10)", med10, times10, km10.inertia_, km10.n_iter_))

    cmd = ["cargo", "run", "--release", "-q", "-p", "clv-models", "--example", "kmeans_speed", "--",
           str(path), str(a.customers), str(a.k), str(a.runs)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        r = json.loads(line)
        rows.append((r["name"], r["median_s"], r["times_s"], r["inertia"], r["iterations"]))

    reference = sk10 if sk10 is not None else rows[0][3]
    print(f"{'':40} {'median s':>9} {'inertia':>14} {'ratio':>8} {'iter':>5}  runs")
    for name, med, times, inertia, it in rows:
        runs = " ".join(f"{t:.3f}" for t in times)
        print(f"{name:40} {med:9.3f} {inertia:14.2f} {inertia / reference:8.5f} {it:5}  {runs}")
    print(f"(inertia ratio against scikit-learn n_init={'10' if sk10 is not None else '1'}; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
