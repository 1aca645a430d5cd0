"""Reference values for clv's window forecasts (crates/clv-models/src/window.rs) from the
Python `lifetimes` package (0.11), written to window_lifetimes.csv next to this script.

* pareto_nbd conditional_pmf: ParetoNBDFitter.conditional_probability_of_n_purchases_up_to_time
  (Fader & Hardie note 028, eq. 16, closed form with 2F1) at the published CDNOW parameters;
* bg_nbd / mbg_nbd new_pmf: probability_of_n_purchases_up_to_time (FHL 2005 eq. 8), which the
  conditional PMF must equal at x = t_x = T = 0;
* bg_nbd / pareto_nbd interval: conditional expected purchases up to t2 minus up to t1.

Run: python3 window_lifetimes.py   (lifetimes 0.11.3, scipy, pandas)
"""
import csv
import os

import pandas as pd
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

HERE = os.path.dirname(os.path.abspath(__file__))

pnbd = ParetoNBDFitter()
pnbd.params_ = pd.Series({"r": 0.5533, "alpha": 10.5776, "s": 0.6062, "beta": 11.6679})
bg = BetaGeoFitter()
bg.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
mbg = ModifiedBetaGeoFitter()
mbg.params_ = pd.Series({"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140})

rows = []
customers = [(0, 0.0, 10.0), (1, 1.71, 38.86), (2, 30.43, 38.86), (6, 20.0, 30.0), (26, 30.86, 31.0)]
for x, t_x, T in customers:
    for t in (4.0, 13.0, 39.0):
        for n in range(0, 6):
            v = float(pnbd.conditional_probability_of_n_purchases_up_to_time(n, t, x, t_x, T))
            rows.append(("pareto_nbd", "conditional_pmf", n, 0.0, t, x, t_x, T, repr(v)))
for t in (1.0, 13.0, 39.0, 78.0):
    for n in range(0, 8):
        rows.append(("bg_nbd", "new_pmf", n, 0.0, t, 0, 0.0, 0.0, repr(float(bg.probability_of_n_purchases_up_to_time(t, n)))))
        rows.append(("mbg_nbd", "new_pmf", n, 0.0, t, 0, 0.0, 0.0, repr(float(mbg.probability_of_n_purchases_up_to_time(t, n)))))
for x, t_x, T in customers:
    if x == 0:
        continue
    for t1, t2 in ((0.0, 13.0), (13.0, 39.0), (39.0, 52.0)):
        e = lambda m, t: 0.0 if t == 0 else float(m.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T))
        rows.append(("bg_nbd", "interval", 0, t1, t2, x, t_x, T, repr(e(bg, t2) - e(bg, t1))))
        rows.append(("pareto_nbd", "interval", 0, t1, t2, x, t_x, T, repr(e(pnbd, t2) - e(pnbd, t1))))

with open(os.path.join(HERE, "window_lifetimes.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["model", "function", "n", "t1", "t2", "x", "t_x", "T", "value"])
    w.writerows(rows)
print(len(rows), "rows")
