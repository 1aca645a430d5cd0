"""The churn model's per-cutoff activity features in DuckDB (the prototype's definitions,
crates/clv-models/tests/reference/churn_features.py), threads = cores, at the cutoffs of
churn-model-bench.

python3 benches/churn_duckdb.py FILE RUNS  ->  prints "rows median_seconds"
"""
import os
import statistics
import sys
import time

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "crates", "clv-models", "tests", "reference"))
from churn_features import feature_sql  # noqa: E402

CUTOFFS = ["2023-07-31", "2023-08-31", "2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31",
           "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-09-30"]

file, runs = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads = {os.cpu_count()}")
con.execute("CREATE OR REPLACE TEMP TABLE cutoffs(cutoff DATE)")
con.executemany("INSERT INTO cutoffs VALUES (?)", [[c] for c in CUTOFFS])
# Materialized inside DuckDB (as DataFusion's collect() materializes Arrow batches).
source = f"read_parquet('{file}')"
run = f"CREATE OR REPLACE TEMP TABLE features_out AS {feature_sql(source, order=False)}"
con.execute(run)  # warm-up
rows = con.execute("SELECT count(*) FROM features_out").fetchone()[0]
times = []
for _ in range(runs):
    t = time.perf_counter()
    con.execute(run)
    times.append(time.perf_counter() - t)
print(rows, f"{statistics.median(times):.3f}")
