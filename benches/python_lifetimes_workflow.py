"""The lifetimes workflow on CDNOW, in Python, with clv and with lifetimes 0.11.3, in the same run.

    python benches/python_lifetimes_workflow.py [--runs 5] [--data testdata/cdnow_master.parquet]

Both start from the same pandas DataFrame of transactions (customer_id, order_date, amount) and
end with a pandas DataFrame per customer: the summary (frequency, recency, T, monetary_value),
P(alive), the expected purchases over the next 30 days and the 12-month CLV (monthly discount
rate 0.01), plus the BG/NBD and Gamma-Gamma parameters. lifetimes: summary_data_from_transaction_data
(freq='D'), BetaGeoFitter, GammaGammaFitter on the returning customers with a positive mean
spend, then its prediction methods. clv: the same in SQL through datafusion-python (btyd_summary
in days, bgnbd_fit and gamma_gamma_fit, p_alive, expected_purchases and clv), to pandas.

Conventions (docs/python.md): days on both sides (lifetimes' freq='D' is clv's time_unit 'day');
clv's gamma is lifetimes' v. The horizon of the CLV differs by design: lifetimes' months are 30
days, clv's are 365.25/12 days, so the CLVs differ slightly and are reported, not asserted.

Asserted: the summaries are equal, the seven parameters agree to 4 significant digits, P(alive)
and expected purchases agree to 1e-4 relative. Timed: the whole workflow, alternating the two,
median of --runs after a warm-up; the load average at the start and the end is printed (the
machine is shared).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

import clv

REPO = Path(__file__).resolve().parents[1]
HORIZON_DAYS = 30
CLV_MONTHS = 12
DISCOUNT = 0.01

SQL = f"""
WITH m AS (SELECT bgnbd_fit(x, t_x, t) AS bg,
                  gamma_gamma_fit(x, monetary) FILTER (WHERE x > 0 AND monetary > 0) AS gg
           FROM summary)
SELECT customer_id, x AS frequency, t_x AS recency, t AS "T", monetary AS monetary_value,
       p_alive(bg, x, t_x, t) AS p_alive,
       expected_purchases(bg, {HORIZON_DAYS}, x, t_x, t) AS expected_purchases,
       clv(bg, gg, x, t_x, t, monetary, {CLV_MONTHS}, 'month', {DISCOUNT}) AS clv,
       bg['r'] AS r, bg['alpha'] AS alpha, bg['a'] AS a, bg['b'] AS b,
       gg['p'] AS p, gg['q'] AS q, gg['gamma'] AS v
FROM summary CROSS JOIN m
"""
PARAMETERS = ["r", "alpha", "a", "b", "p", "q", "v"]


def with_clv(transactions: pd.DataFrame, end: str) -> tuple[pd.DataFrame, dict[str, float]]:
    ctx = clv.context()
    clv.from_frame(ctx, "transactions", transactions)
    summary = ctx.sql(f"SELECT * FROM btyd_summary('transactions', '{end}', 'day')").cache()
    ctx.register_view("summary", summary)
    out = ctx.sql(SQL).to_pandas()
    params = {p: float(out[p].iloc[0]) for p in PARAMETERS}
    return out.drop(columns=PARAMETERS).set_index("customer_id").sort_index(), params


def with_lifetimes(transactions: pd.DataFrame, end: str) -> tuple[pd.DataFrame, dict[str, float]]:
    s = summary_data_from_transaction_data(
        transactions, "customer_id", "order_date", monetary_value_col="amount", observation_period_end=end, freq="D"
    )
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
    returning = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    ggf = GammaGammaFitter(penalizer_coef=0.0).fit(returning["frequency"], returning["monetary_value"])
    s["p_alive"] = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    s["expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        HORIZON_DAYS, s["frequency"], s["recency"], s["T"]
    )
    s["clv"] = ggf.customer_lifetime_value(
        bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"], time=CLV_MONTHS, discount_rate=DISCOUNT, freq="D"
    )
    params = {**{k: float(v) for k, v in bgf.params_.items()}, **{k: float(v) for k, v in ggf.params_.items()}}
    return s.sort_index(), params


def significant(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits - 1}e}")


def check(ours: pd.DataFrame, ours_params: dict, theirs: pd.DataFrame, theirs_params: dict) -> dict[str, float]:
    assert list(ours.index) == list(theirs.index), "different customers"
    for column in ("frequency", "recency", "T"):
        assert (ours[column].to_numpy() == theirs[column].to_numpy()).all(), column
    assert np.abs(ours["monetary_value"].to_numpy() - theirs["monetary_value"].to_numpy()).max() < 1e-9
    for p in PARAMETERS:
        assert significant(ours_params[p]) == significant(theirs_params[p]), (
            f"{p}: clv {ours_params[p]!r}, lifetimes {theirs_params[p]!r} differ in 4 significant digits"
        )
    worst = {}
    for column in ("p_alive", "expected_purchases", "clv"):
        a, b = ours[column].to_numpy(), theirs[column].to_numpy()
        worst[column] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
    assert worst["p_alive"] < 1e-4 and worst["expected_purchases"] < 1e-4, worst
    return worst


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[0:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO / "testdata" / "cdnow_master.parquet"))
    ap.add_argument("--end", default=None, help="observation end (default: the last order date)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    transactions = pq.read_table(args.data, columns=["customer_id", "order_date", "amount"]).to_pandas()
    transactions["order_date"] = pd.to_datetime(transactions["order_date"])
    end = args.end or transactions["order_date"].max().date().isoformat()
    print(f"load average at start: {loadavg()}", flush=True)
    times = {"clv": [], "lifetimes": []}
    for run in range(args.runs + 1):  # run 0 warms up
        started = time.perf_counter()
        ours, ours_params = with_clv(transactions, end)
        t_clv = time.perf_counter() - started
        started = time.perf_counter()
        theirs, theirs_params = with_lifetimes(transactions, end)
        t_lifetimes = time.perf_counter() - started
        worst = check(ours, ours_params, theirs, theirs_params)
        if run > 0:
            times["clv"].append(t_clv)
            times["lifetimes"].append(t_lifetimes)
    print(f"load average at end: {loadavg()}")
    c, l = statistics.median(times["clv"]), statistics.median(times["lifetimes"])
    print(
        f"CDNOW {Path(args.data).name}: {len(transactions):,} transactions, {len(ours):,} customers, "
        f"observation end {end}, days; lifetimes {lifetimes.__version__}, clv {clv.__version__}, "
        f"{os.cpu_count()} cores, median of {args.runs} runs"
    )
    print()
    print("| workflow | median s | runs s | vs clv |")
    print("|---|---|---|---|")
    print(f"| clv (datafusion-python) | {c:.3f} | {', '.join(f'{x:.3f}' for x in times['clv'])} | 1.0 |")
    print(f"| lifetimes 0.11.3 | {l:.3f} | {', '.join(f'{x:.3f}' for x in times['lifetimes'])} | {l / c:.1f}x |")
    print()
    print("| parameter | clv | lifetimes | 4 significant digits |")
    print("|---|---|---|---|")
    for p in PARAMETERS:
        print(f"| {p} | {ours_params[p]:.6g} | {theirs_params[p]:.6g} | {significant(ours_params[p]):.4g} |")
    print()
    print(
        "max relative difference per customer: "
        + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
        + " (clv: months of 365.25/12 days, lifetimes: 30 days)"
    )
    assert all(math.isfinite(v) for v in worst.values())


if __name__ == "__main__":
    main()
