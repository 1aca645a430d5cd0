"""The plain-SQL RFM workload (GROUP BY + 3 NTILE + CASE) in DuckDB, threads = cores.

python3 benches/rfm_duckdb.py FILE RUNS [MEMORY_LIMIT, e.g. 1024MB] [--copy OUT.parquet]
  ->  prints "rows median_seconds"

The day of a time is `CAST(order_date AS DATE)`: a Date32 column as it is, a timestamp's day, and
for a timestamp with a time zone (TIMESTAMPTZ) its day in the session's zone, set to the
generator's zone (Europe/Paris). With --copy the result is written to Parquet (`COPY … TO`), the
same output as `clv rfm FILE --out OUT.parquet`; otherwise it is materialized in a temp table.
"""
import os
import statistics
import sys
import time

import duckdb

SQL = """
WITH base AS (SELECT customer_id, CAST(order_date AS DATE) - DATE '1970-01-01' AS d, amount FROM read_parquet('{file}')),
     a AS (SELECT max(d) + 1 AS as_of FROM base),
     s AS (SELECT customer_id, max(d) AS last_d, count(*) AS frequency, sum(amount) AS monetary FROM base GROUP BY customer_id),
     sc AS (SELECT s.customer_id, a.as_of - s.last_d AS recency_days, frequency, monetary,
                   ntile(5) OVER (ORDER BY a.as_of - s.last_d DESC, s.customer_id) AS r,
                   ntile(5) OVER (ORDER BY frequency, s.customer_id) AS f,
                   ntile(5) OVER (ORDER BY monetary, s.customer_id) AS m
            FROM s CROSS JOIN a)
SELECT customer_id, recency_days, frequency, monetary, r, f, m,
  CASE WHEN r = 5 AND f >= 4 THEN 'champions' WHEN r IN (3, 4) AND f >= 4 THEN 'loyal_customers'
       WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists' WHEN r = 5 AND f = 1 THEN 'new_customers'
       WHEN r = 4 AND f = 1 THEN 'promising' WHEN r = 3 AND f = 3 THEN 'need_attention'
       WHEN r = 3 AND f <= 2 THEN 'about_to_sleep' WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
       WHEN r <= 2 AND f = 5 THEN 'cant_lose' ELSE 'hibernating' END AS segment
FROM sc
"""

args = sys.argv[1:]
copy = None
if "--copy" in args:
    at = args.index("--copy")
    copy = args[at + 1]
    del args[at:at + 2]
file, runs = args[0], int(args[1])
con = duckdb.connect()
con.execute(f"SET threads = {os.cpu_count()}")
con.execute("SET TimeZone = 'Europe/Paris'")
if len(args) > 2:
    con.execute(f"SET memory_limit = '{args[2]}'")
sql = SQL.format(file=file)

# The result is materialized inside DuckDB (as DataFusion's collect() materializes Arrow
# batches), without a conversion to Python objects; or written to Parquet.
if copy:
    run = f"COPY ({sql}) TO '{copy}' (FORMAT parquet)"
else:
    run = f"CREATE OR REPLACE TEMP TABLE rfm_out AS {sql}"
con.execute(run)  # warm-up
if copy:
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{copy}')").fetchone()[0]
else:
    rows = con.execute("SELECT count(*) FROM rfm_out").fetchone()[0]
times = []
for _ in range(runs):
    t = time.perf_counter()
    con.execute(run)
    times.append(time.perf_counter() - t)
print(rows, f"{statistics.median(times):.3f}")
