"""Reference values of the bootstrap's `log_normal` interval (clv_models::bootstrap,
IntervalMethod::LogNormal), computed independently with numpy/scipy for the unit test
`log_normal_intervals_match_the_reference` in crates/clv-models/src/bootstrap.rs.

The interval of an estimate e with bootstrap replicates v at level L is
    g^-1( g(e) -/+ z * sd(g(v)) ),  z = Phi^-1((1 + L) / 2),  sd with divisor B - 1,
with g = ln for a positive quantity and g = logit for a probability (Efron & Tibshirani 1993,
sections 13.2 and 13.6). Run: python3 crates/clv-models/tests/reference/bootstrap_log_normal.py
"""
import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

CASES = [
    # (name, scale, estimate, replicates, level)
    ("positive", "log", 2.0, [1.5, 1.8, 2.0, 2.2, 2.9, 2.4, 1.7, 2.1], 0.95),
    ("probability", "logit", 0.8, [0.7, 0.75, 0.82, 0.9, 0.85, 0.78], 0.9),
]

for name, scale, est, reps, level in CASES:
    g, ginv = (np.log, np.exp) if scale == "log" else (logit, expit)
    z = norm.ppf(0.5 * (1 + level))
    sd = np.std(g(np.array(reps)), ddof=1)
    lo, hi = ginv(g(est) - z * sd), ginv(g(est) + z * sd)
    print(f"{name}: sd {sd:.17g} lower {lo:.17g} upper {hi:.17g}")
