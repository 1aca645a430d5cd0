"""Issue 18's segment workloads in DuckDB SQL (threads = cores), on the file clv reads:

1. rfm: the plain-SQL RFM of benches/rfm_duckdb.py (GROUP BY + 3 NTILE + CASE), the reference;
2. evaluate: one segmentation (rf_grid on NTILE(5) scores) at 12 monthly cutoffs with a 90-day
   window: per cutoff and segment, customers, repurchase rate, revenue, shares, AOV, lift (the
   SQL of segment-side-by-side's plain DataFusion variant);
3. tune: grid A (40 rule-based configurations, the label expressions written by
   `segment-side-by-side --duckdb-grid`) at 6 monthly cutoffs: the per-(cutoff, customer)
   features and outcomes computed once, then per configuration NTILE scores (DuckDB has no
   type-1 quantile cut, so quantile configurations use NTILE too), labels, eta2 of revenue and
   of repurchase, the best segment's lift and the stability between consecutive cutoffs.

python3 benches/segment_duckdb.py FILE RUNS GRID_FILE  ->  one line per workload: "name rows median_seconds"
"""
import os
import statistics
import sys
import time

import duckdb

RFM = """
WITH base AS (SELECT customer_id, order_date - DATE '1970-01-01' AS d, amount FROM read_parquet('{file}')),
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

CUTOFFS_12 = ["2023-07-31", "2023-08-31", "2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31",
              "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]
CUTOFFS_6 = CUTOFFS_12[6:]


def cutoffs_values(days):
    return ", ".join(f"(DATE '{d}')" for d in days)


EVALUATE = """
WITH c AS (SELECT cutoff FROM (VALUES {cutoffs}) AS t(cutoff)),
     j AS (SELECT c.cutoff, b.customer_id, b.order_date, b.amount FROM read_parquet('{file}') b
           JOIN c ON b.order_date <= c.cutoff + INTERVAL 90 DAY),
     s AS (SELECT cutoff, customer_id,
                  max(order_date) FILTER (WHERE order_date <= cutoff) AS last_d,
                  count(*) FILTER (WHERE order_date <= cutoff) AS frequency,
                  sum(amount) FILTER (WHERE order_date <= cutoff) AS monetary,
                  count(*) FILTER (WHERE order_date > cutoff) AS orders,
                  coalesce(sum(amount) FILTER (WHERE order_date > cutoff), 0) AS revenue
           FROM j GROUP BY cutoff, customer_id),
     sc AS (SELECT cutoff, customer_id, orders, revenue,
                   ntile(5) OVER (PARTITION BY cutoff ORDER BY cutoff - last_d DESC, customer_id) AS r,
                   ntile(5) OVER (PARTITION BY cutoff ORDER BY frequency, customer_id) AS f
            FROM s WHERE frequency > 0),
     seg AS (SELECT cutoff, orders, revenue,
               CASE WHEN r = 5 AND f >= 4 THEN 'champions' WHEN r IN (3, 4) AND f >= 4 THEN 'loyal_customers'
                    WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists' WHEN r = 5 AND f = 1 THEN 'new_customers'
                    WHEN r = 4 AND f = 1 THEN 'promising' WHEN r = 3 AND f = 3 THEN 'need_attention'
                    WHEN r = 3 AND f <= 2 THEN 'about_to_sleep' WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
                    WHEN r <= 2 AND f = 5 THEN 'cant_lose' ELSE 'hibernating' END AS segment
             FROM sc),
     t AS (SELECT cutoff, count(*) AS n, sum(revenue) AS rev FROM seg GROUP BY cutoff)
SELECT seg.cutoff, segment, count(*) AS customers, count(*) * 1.0 / max(t.n) AS customer_share,
       sum(CASE WHEN orders > 0 THEN 1 ELSE 0 END) AS repurchasers,
       avg(CASE WHEN orders > 0 THEN 1.0 ELSE 0.0 END) AS repurchase_rate,
       sum(orders) AS future_orders, sum(revenue) AS future_revenue, avg(revenue) AS revenue_per_customer,
       sum(revenue) / max(t.rev) AS revenue_share, sum(revenue) / sum(orders) AS aov,
       avg(revenue) / (max(t.rev) / max(t.n)) AS lift
FROM seg JOIN t ON seg.cutoff = t.cutoff GROUP BY seg.cutoff, segment
"""

FEATURES = """
CREATE OR REPLACE TEMP TABLE feat AS
WITH c AS (SELECT cutoff FROM (VALUES {cutoffs}) AS t(cutoff)),
     j AS (SELECT c.cutoff, b.customer_id, b.order_date, b.amount FROM read_parquet('{file}') b
           JOIN c ON b.order_date <= c.cutoff + INTERVAL 90 DAY)
SELECT cutoff, customer_id,
       cutoff - max(order_date) FILTER (WHERE order_date <= cutoff) AS recency_days,
       count(*) FILTER (WHERE order_date <= cutoff) AS frequency,
       sum(amount) FILTER (WHERE order_date <= cutoff) AS monetary,
       count(*) FILTER (WHERE order_date > cutoff) AS orders,
       coalesce(sum(amount) FILTER (WHERE order_date > cutoff), 0) AS revenue
FROM j GROUP BY cutoff, customer_id HAVING count(*) FILTER (WHERE order_date <= cutoff) > 0
"""

CONFIG = """
INSERT INTO tune_out
WITH sc AS (SELECT cutoff, customer_id, revenue, CASE WHEN orders > 0 THEN 1.0 ELSE 0.0 END AS bought,
                   ntile({bins}) OVER (PARTITION BY cutoff ORDER BY recency_days DESC, customer_id) AS r,
                   ntile({bins}) OVER (PARTITION BY cutoff ORDER BY frequency, customer_id) AS f,
                   ntile({bins}) OVER (PARTITION BY cutoff ORDER BY monetary, customer_id) AS m
            FROM feat),
     s AS (SELECT cutoff, customer_id, revenue, bought, {label} AS seg FROM sc),
     mm AS (SELECT cutoff, avg(revenue) AS mu, avg(bought) AS p, count(*) AS n FROM s GROUP BY cutoff),
     g AS (SELECT cutoff, seg, count(*) AS ng, avg(revenue) AS mg, avg(bought) AS pg FROM s GROUP BY cutoff, seg),
     b AS (SELECT g.cutoff, sum(ng * (mg - mu) * (mg - mu)) AS ssb, sum(ng * (pg - p) * (pg - p)) AS ssbp,
                  max(mg) / max(mu) AS lift
           FROM g JOIN mm ON g.cutoff = mm.cutoff GROUP BY g.cutoff),
     t AS (SELECT s.cutoff, sum((revenue - mu) * (revenue - mu)) AS sst FROM s JOIN mm ON s.cutoff = mm.cutoff GROUP BY s.cutoff),
     pc AS (SELECT cutoff, lag(cutoff) OVER (ORDER BY cutoff) AS prev FROM mm),
     st AS (SELECT pc.cutoff, avg(CASE WHEN a.seg = b.seg THEN 1.0 ELSE 0.0 END) AS stability
            FROM pc JOIN s a ON a.cutoff = pc.prev JOIN s b ON b.cutoff = pc.cutoff AND b.customer_id = a.customer_id
            GROUP BY pc.cutoff)
SELECT '{name}', mm.cutoff, b.ssb / t.sst, b.ssbp / (mm.n * mm.p * (1 - mm.p)), b.lift, st.stability
FROM mm JOIN b ON mm.cutoff = b.cutoff JOIN t ON mm.cutoff = t.cutoff LEFT JOIN st ON mm.cutoff = st.cutoff
"""


def main():
    file, runs, grid_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    grid = [line.rstrip("\n").split("\t") for line in open(grid_file, encoding="utf-8") if line.strip()]

    def rfm():
        con.execute(f"CREATE OR REPLACE TEMP TABLE out AS {RFM.format(file=file)}")
        return con.execute("SELECT count(*) FROM out").fetchone()[0]

    def evaluate():
        sql = EVALUATE.format(file=file, cutoffs=cutoffs_values(CUTOFFS_12))
        con.execute(f"CREATE OR REPLACE TEMP TABLE out AS {sql}")
        return con.execute("SELECT count(*) FROM out").fetchone()[0]

    def tune():
        con.execute(FEATURES.format(file=file, cutoffs=cutoffs_values(CUTOFFS_6)))
        con.execute("CREATE OR REPLACE TEMP TABLE tune_out (name VARCHAR, cutoff DATE, eta2_revenue DOUBLE, "
                    "eta2_repurchase DOUBLE, best_lift DOUBLE, stability DOUBLE)")
        for name, bins, label in grid:
            con.execute(CONFIG.format(name=name, bins=bins, label=label))
        con.execute("CREATE OR REPLACE TEMP TABLE ranked AS SELECT name, avg(eta2_revenue) AS e, avg(eta2_repurchase) AS r, "
                    "avg(best_lift) AS l, avg(stability) AS s FROM tune_out GROUP BY name ORDER BY e DESC")
        return con.execute("SELECT count(*) FROM ranked").fetchone()[0]

    for name, work in [("rfm", rfm), ("evaluate_12_cutoffs", evaluate), (f"tune_{len(grid)}_configs_6_cutoffs", tune)]:
        rows = work()  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            work()
            times.append(time.perf_counter() - t)
        print(name, rows, f"{statistics.median(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
