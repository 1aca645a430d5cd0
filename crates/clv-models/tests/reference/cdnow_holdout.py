"""Calibration/holdout data, tracking and holdout-accuracy references for the CDNOW sample,
computed independently of clv with pandas and Python lifetimes 0.11.

From testdata/cdnow_sample.parquet (master_customer_id = the summary's ID): same-day purchases
are one transaction; calibration 1997-01-01 .. 1997-09-30, holdout 1997-10-01 .. 1998-06-30
(39 weeks each, as in Fader, Hardie & Lee 2005). Times in weeks (days / 7).

Writes, in tests/data/:
* cdnow_calibration_holdout.csv — id, first_day (days since 1997-01-01), x, t_x, T (the
  calibration summary, unrounded), x_holdout (repeat transactions in the holdout);
* cdnow_tracking.csv — per week k = 1..78 ([7(k-1), 7k) days since 1997-01-01): the actual
  repeat transactions of the sample, and the BG/NBD expectation at the published parameters
  (r, alpha, a, b) = (0.2426, 4.4136, 0.7929, 2.4259), incremental and cumulative: the sum over
  customers of lifetimes' expected_number_of_purchases_up_to_time(age at the end of the week)
  minus the same at its start (ages below 0 count 0);
* cdnow_holdout_metrics.csv — for the same parameters, the conditional expected holdout
  purchases of each customer (lifetimes' conditional_expected_number_of_purchases_up_to_time,
  39 weeks) against x_holdout: MAE, RMSE, bias (mean predicted - actual), Pearson correlation,
  total predicted, total actual; and the same for the naive baseline x / T * 39.

Run: python3 crates/clv-models/tests/reference/cdnow_holdout.py
"""
import os

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "../../../..")
out = os.path.join(here, "../data")

tx = pd.read_parquet(os.path.join(root, "testdata/cdnow_sample.parquet"))
tx["day"] = (pd.to_datetime(tx["order_date"]) - pd.Timestamp("1997-01-01")).dt.days
days = tx[["master_customer_id", "day"]].drop_duplicates().sort_values(["master_customer_id", "day"])
CAL_END = (pd.Timestamp("1997-09-30") - pd.Timestamp("1997-01-01")).days  # 272
HOLD_END = (pd.Timestamp("1998-06-30") - pd.Timestamp("1997-01-01")).days  # 545

rows = []
for cid, g in days.groupby("master_customer_id"):
    d = g["day"].values
    first = d[0]
    cal = d[d <= CAL_END]
    hold = d[(d > CAL_END) & (d <= HOLD_END)]
    x = len(cal) - 1
    t_x = (cal[-1] - first) / 7.0
    T = (CAL_END - first) / 7.0
    rows.append((cid, first, x, t_x, T, len(hold)))
cal = pd.DataFrame(rows, columns=["id", "first_day", "x", "t_x", "T", "x_holdout"])
cal.to_csv(os.path.join(out, "cdnow_calibration_holdout.csv"), index=False, float_format="%.17g")

# Agreement with the published summary (two decimals).
pub = pd.read_csv(os.path.join(root, "testdata/cdnow_sample_summary.csv"))
assert (pub["ID"].values == cal["id"].values).all()
assert (pub["frequency"].values == cal["x"].values).all()
assert np.abs(pub["recency"].values - cal["t_x"].values).max() < 0.006
assert np.abs(pub["T"].values - cal["T"].values).max() < 0.006

bg = BetaGeoFitter()
bg.params_ = pd.Series(dict(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259))

# Tracking: weeks 1..78 = [7(k-1), 7k) days.
first = cal["first_day"].values / 7.0


def cum_expected(t_weeks):
    age = np.maximum(t_weeks - first, 0.0)
    e = np.where(age > 0, bg.expected_number_of_purchases_up_to_time(np.where(age > 0, age, 1.0)), 0.0)
    return e.sum()


repeats = days.merge(days.groupby("master_customer_id")["day"].min().rename("first"), on="master_customer_id")
repeats = repeats[repeats["day"] > repeats["first"]]
weeks = []
for k in range(1, 79):
    lo, hi = 7 * (k - 1), 7 * k
    actual = int(((repeats["day"] >= lo) & (repeats["day"] < hi)).sum())
    weeks.append((k, actual, cum_expected(k) - cum_expected(k - 1), cum_expected(k)))
pd.DataFrame(weeks, columns=["week", "actual", "expected", "expected_cumulative"]).to_csv(
    os.path.join(out, "cdnow_tracking.csv"), index=False, float_format="%.17g")

# Holdout accuracy.
pred = bg.conditional_expected_number_of_purchases_up_to_time(39.0, cal["x"], cal["t_x"], cal["T"]).values
act = cal["x_holdout"].values.astype(float)


def metrics(p):
    e = p - act
    return [np.abs(e).mean(), np.sqrt((e**2).mean()), e.mean(), np.corrcoef(p, act)[0, 1], p.sum(), act.sum()]


naive = cal["x"].values / cal["T"].values * 39.0
m = pd.DataFrame([["bgnbd"] + metrics(pred), ["naive"] + metrics(naive)],
                 columns=["model", "mae", "rmse", "bias", "correlation", "total_predicted", "total_actual"])
m.index = [0, 1]
m.drop(columns="model").to_csv(os.path.join(out, "cdnow_holdout_metrics.csv"), index=True, index_label="model",
                               float_format="%.17g")
print(m)
