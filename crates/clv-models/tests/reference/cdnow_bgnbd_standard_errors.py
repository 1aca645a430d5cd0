"""Reference standard errors of the BG/NBD fit on the CDNOW sample, computed independently of
clv with numpy/scipy: the maximum-likelihood estimate (scipy, BFGS on log-parameters, from
Fader, Hardie & Lee 2005 eq. 6 written out below), the observed-information standard errors
(inverse of the numerically differentiated Hessian of the total log-likelihood) and the
sandwich standard errors H^-1 J H^-1 with J the outer product of the per-customer scores
(central differences). Writes tests/data/cdnow_bgnbd_standard_errors.csv.

Run from the repository root: python3 crates/clv-models/tests/reference/cdnow_bgnbd_standard_errors.py
"""
import os

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

here = os.path.dirname(os.path.abspath(__file__))
d = pd.read_csv(os.path.join(here, "../../../../testdata/cdnow_sample_summary.csv"))
x, tx, T = d["frequency"].values, d["recency"].values, d["T"].values


def ll_ind(th):
    r, al, a, b = th
    head = gammaln(r + x) - gammaln(r) + r * np.log(al)
    t1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(al + T)
    xm = np.maximum(x, 1)
    t2 = np.where(x > 0, betaln(a + 1, b + xm - 1) - betaln(a, b) - (r + x) * np.log(al + tx), -np.inf)
    return head + np.logaddexp(t1, t2)


res = minimize(lambda p: -ll_ind(np.exp(p)).sum(), np.log([1.0, 1.0, 1.0, 1.0]), method="BFGS",
               options={"gtol": 1e-10, "maxiter": 10000})
th = np.exp(res.x)


def scores(th):
    g = []
    for j in range(4):
        e = np.zeros(4)
        e[j] = 1e-6 * th[j]
        g.append((ll_ind(th + e) - ll_ind(th - e)) / (2 * e[j]))
    return np.array(g).T


H = np.zeros((4, 4))
for j in range(4):
    e = np.zeros(4)
    e[j] = 1e-5 * th[j]
    H[:, j] = (scores(th + e).sum(0) - scores(th - e).sum(0)) / (2 * e[j])
H = -(H + H.T) / 2
Hi = np.linalg.inv(H)
G = scores(th)
S = Hi @ (G.T @ G) @ Hi
out = pd.DataFrame({
    "index": np.arange(4),
    "estimate": th,
    "se_hessian": np.sqrt(np.diag(Hi)),
    "se_sandwich": np.sqrt(np.diag(S)),
})
out.to_csv(os.path.join(here, "../data/cdnow_bgnbd_standard_errors.csv"), index=False, float_format="%.10g")
print(out, "\nlog-likelihood", -res.fun)
