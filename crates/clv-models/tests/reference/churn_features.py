"""Per-customer churn features and labels at several cutoffs, from the CDNOW master file.

This is the prototype of the features clv's SQL will compute (issue 17), written in plain
DuckDB SQL so that the definitions are unambiguous.  Day conventions (all integers):

* a *purchase* is a distinct order date of a customer (several orders on one day are one
  purchase, clv's default order counting); amounts are summed per customer, zero amounts count;
* cutoff day ``c``; only rows with ``order_date <= c`` reach a feature;
* ``churned`` = no order dated in ``(c, c + window]``; only cutoffs whose window ends on or
  before the data end (1998-06-30) are labelled.

Columns (c = cutoff, d = purchase days <= c of the customer, F = |d|):
    frequency        F
    monetary         total amount <= c
    recency_days     c - max(d)
    tenure_days      c - min(d)
    p30, p90, p180   purchase days in (c-30, c], (c-90, c], (c-180, c]
    s30, s90, s180   amount of orders dated in the same windows
    median_gap       median of the F-1 gaps between consecutive purchase days (NULL if F = 1);
                     the median of an even count is the mean of the two middle gaps
    x, t_x, T        BTYD summary in days: F-1, max(d)-min(d), c-min(d)

Usage: python3 churn_features.py OUT.csv [cutoff ...]   (default cutoffs below)
       python3 churn_features.py --check-leakage           (features at 1997-09-30 are the
           same when every later order is changed: amounts tripled, dates moved a day later,
           extra orders added)
"""
import sys

import duckdb

SOURCE = "'/work/shared/data/cdnow_master.parquet'"
WINDOW = 90
CUTOFFS = ["1997-01-31", "1997-02-28", "1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30", "1997-09-30"]


def feature_sql(source=SOURCE, window=WINDOW, order=True):
    """The features of every customer at every cutoff of the temp table `cutoffs(cutoff DATE)`."""
    return f"""
        WITH tx AS (  -- amounts summed exactly, as clv does (floats rounded to 9 decimals)
            SELECT customer_id, order_date AS day, CAST(amount AS DECIMAL(38, 9)) AS amount FROM {source}),
        days AS (  -- one row per customer, cutoff and purchase day on or before the cutoff
            SELECT c.cutoff, t.customer_id, t.day, sum(t.amount) AS spend
            FROM cutoffs c JOIN tx t ON t.day <= c.cutoff
            GROUP BY ALL),
        gaps AS (
            SELECT cutoff, customer_id, day, spend,
                   day - lag(day) OVER (PARTITION BY cutoff, customer_id ORDER BY day) AS gap
            FROM days),
        per AS (
            SELECT cutoff, customer_id,
                   count(*) AS frequency,
                   sum(spend) AS monetary,
                   cutoff - max(day) AS recency_days,
                   cutoff - min(day) AS tenure_days,
                   count(*) FILTER (WHERE day > cutoff - 30) AS p30,
                   count(*) FILTER (WHERE day > cutoff - 90) AS p90,
                   count(*) FILTER (WHERE day > cutoff - 180) AS p180,
                   coalesce(sum(spend) FILTER (WHERE day > cutoff - 30), 0) AS s30,
                   coalesce(sum(spend) FILTER (WHERE day > cutoff - 90), 0) AS s90,
                   coalesce(sum(spend) FILTER (WHERE day > cutoff - 180), 0) AS s180,
                   median(gap) AS median_gap,
                   count(*) - 1 AS x,
                   max(day) - min(day) AS t_x,
                   cutoff - min(day) AS T
            FROM gaps GROUP BY cutoff, customer_id),
        future AS (
            SELECT c.cutoff, t.customer_id, count(*) AS window_orders
            FROM cutoffs c JOIN tx t ON t.day > c.cutoff AND t.day <= c.cutoff + INTERVAL {window} DAY
            GROUP BY ALL)
        SELECT per.*, coalesce(f.window_orders, 0) = 0 AS churned
        FROM per LEFT JOIN future f USING (cutoff, customer_id)
        """ + ("ORDER BY cutoff, customer_id" if order else "")


def features(con, cutoffs, source=SOURCE):
    con.execute("CREATE OR REPLACE TEMP TABLE cutoffs(cutoff DATE)")
    con.executemany("INSERT INTO cutoffs VALUES (?)", [[c] for c in cutoffs])
    return con.sql(feature_sql(source)).df()


def check_leakage(con, cutoff="1997-09-30"):
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE changed AS
        SELECT customer_id, order_date, amount FROM {SOURCE} WHERE order_date <= DATE '{cutoff}'
        UNION ALL
        SELECT customer_id, CAST(order_date + INTERVAL 1 DAY AS DATE), amount * 3 FROM {SOURCE} WHERE order_date > DATE '{cutoff}'
        UNION ALL
        SELECT customer_id, CAST(DATE '{cutoff}' + INTERVAL 5 DAY AS DATE), 1.0 FROM {SOURCE} WHERE order_date <= DATE '{cutoff}'"""
    )
    a = features(con, [cutoff]).drop(columns="churned")
    b = features(con, [cutoff], "changed").drop(columns="churned")
    assert a.equals(b), "a feature depends on an order after the cutoff"
    print(f"leakage check: {len(a)} customers, features at {cutoff} unchanged by later orders")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check-leakage"]:
        check_leakage(duckdb.connect())
        sys.exit(0)
    out = sys.argv[1]
    cutoffs = sys.argv[2:] or CUTOFFS
    con = duckdb.connect()
    df = features(con, cutoffs)
    df.to_csv(out, index=False)
    print(df.groupby("cutoff").agg(n=("customer_id", "size"), churn=("churned", "mean")))
