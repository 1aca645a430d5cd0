"""Reference log-likelihoods and maximum-likelihood estimates of BG/NBD and Pareto/NBD with
static covariates (Fader & Hardie 2007, note 019), computed independently of clv with
numpy/scipy.

Data: the CDNOW sample summary (testdata/cdnow_sample_summary.csv) with covariates derived from
the customer ID: purchase covariates z1 = ID mod 2, z2 = ((ID mod 7) - 3) / 2; dropout covariate
z3 = 1 if ID mod 3 == 0 else 0.

Models (per customer i):
* BG/NBD: alpha_i = alpha0 exp(-(g1 z1 + g2 z2)), a_i = a0 exp(ga z3), b_i = b0 exp(gb z3);
  likelihood FHL 2005 eq. 6 at (r, alpha_i, a_i, b_i).
* Pareto/NBD: alpha_i = alpha0 exp(-(g1 z1 + g2 z2)), beta_i = beta0 exp(-gd z3); likelihood
  note 009 eqs. 18-20 at (r, alpha_i, s, beta_i), scipy.special.hyp2f1.

* Gamma-Gamma (spend scale, clv's parameterisation): gamma_i = gamma0 exp(d1 z1 + d2 z3) on the
  946 customers with x > 0 of testdata/cdnow_sample_summary_with_spend.csv; the density of the
  mean repeat spend zbar (Fader & Hardie 2013, note 025; clv's convention).

Writes tests/data/covariates_loglik.csv (model 0 BG/NBD, 1 Pareto/NBD; the parameter vector
r, alpha0, a0|s, b0|beta0, g1, g2, ga|gd, gb (0 for Pareto/NBD); log-likelihood) at three fixed
points and at the maximum-likelihood estimate (scipy BFGS on (log base parameters,
coefficients)); the last row of each model is its MLE.
Run: python3 crates/clv-models/tests/reference/covariates.py
"""
import os

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

here = os.path.dirname(os.path.abspath(__file__))
d = pd.read_csv(os.path.join(here, "../../../../testdata/cdnow_sample_summary.csv"))
ID = d["ID"].values
x, tx, T = d["frequency"].values.astype(float), d["recency"].values, d["T"].values
z1 = (ID % 2).astype(float)
z2 = ((ID % 7) - 3) / 2.0
z3 = (ID % 3 == 0).astype(float)


def bg_ll(v):
    r, al0, a0, b0, g1, g2, ga, gb = v
    al = al0 * np.exp(-(g1 * z1 + g2 * z2))
    a = a0 * np.exp(ga * z3)
    b = b0 * np.exp(gb * z3)
    head = gammaln(r + x) - gammaln(r) + r * np.log(al)
    t1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(al + T)
    xm = np.maximum(x, 1.0)
    t2 = np.where(x > 0, betaln(a + 1, b + xm - 1) - betaln(a, b) - (r + x) * np.log(al + tx), -np.inf)
    return (head + np.logaddexp(t1, t2)).sum()


def pareto_ll(v):
    r, al0, s, be0, g1, g2, gd, _ = v
    al = al0 * np.exp(-(g1 * z1 + g2 * z2))
    be = be0 * np.exp(-gd * z3)
    n = r + s + x
    big = al >= be
    m = np.where(big, al, be)
    bpar = np.where(big, s + 1, r + x)
    f = lambda y: hyp2f1(n, bpar, n + 1, np.abs(al - be) / (m + y)) / (m + y) ** n
    a0 = f(tx) - f(T)
    first = (al + T) ** (-(r + x)) * (be + T) ** (-s)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(al) + s * np.log(be) + np.log(first + s / n * a0)
    return ll.sum()


def mle(ll, start, free, base=4):
    """Maximise ll over the free coordinates; the first `base` parameters on the log scale."""
    start = np.array(start, dtype=float)

    def unpack(u):
        v = start.copy()
        v[:base] = np.exp(u[:base])
        v[base:base + free] = u[base:]
        return v

    u0 = np.concatenate([np.log(start[:base]), start[base:base + free]])
    res = minimize(lambda u: -ll(unpack(u)), u0, method="BFGS", options={"gtol": 1e-9, "maxiter": 20000})
    res = minimize(lambda u: -ll(unpack(u)), res.x, method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 40000, "maxfev": 40000})
    res = minimize(lambda u: -ll(unpack(u)), res.x, method="BFGS", options={"gtol": 1e-9, "maxiter": 20000})
    return unpack(res.x)


rows = []
for v in ([0.25, 4.0, 0.8, 2.4, 0.1, -0.05, 0.2, -0.1], [0.5, 8.0, 1.2, 3.0, -0.3, 0.2, -0.4, 0.5],
          [0.2426, 4.4136, 0.7929, 2.4259, 0.0, 0.0, 0.0, 0.0]):
    rows.append([0] + v + [bg_ll(v)])
best = mle(bg_ll, [0.2426, 4.4136, 0.7929, 2.4259, 0.0, 0.0, 0.0, 0.0], 4)
rows.append([0] + list(best) + [bg_ll(best)])
for v in ([0.55, 10.0, 0.6, 11.0, 0.1, -0.05, 0.2, 0.0], [0.8, 15.0, 0.4, 8.0, -0.3, 0.2, -0.4, 0.0],
          [0.5533, 10.5776, 0.6062, 11.6679, 0.0, 0.0, 0.0, 0.0]):
    rows.append([1] + v + [pareto_ll(v)])
best = mle(pareto_ll, [0.5533, 10.5776, 0.6062, 11.6679, 0.0, 0.0, 0.0, 0.0], 3)
rows.append([1] + list(best) + [pareto_ll(best)])
sp = pd.read_csv(os.path.join(here, "../../../../testdata/cdnow_sample_summary_with_spend.csv"))
keep = sp["x"].values > 0
sid, sx, zbar = sp["ID"].values[keep], sp["x"].values[keep].astype(float), sp["zbar"].values[keep]
s1 = (sid % 2).astype(float)
s3 = (sid % 3 == 0).astype(float)


def gg_ll(v):
    p, q, g0, d1, d2 = v[:5]
    g = g0 * np.exp(d1 * s1 + d2 * s3)
    px = p * sx
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + px * np.log(sx)
            + (px - 1) * np.log(zbar) - (px + q) * np.log(g + sx * zbar)).sum()


for v in ([6.0, 3.5, 15.0, 0.1, -0.2, 0, 0, 0], [4.0, 5.0, 30.0, -0.3, 0.2, 0, 0, 0],
          [6.2488, 3.7446, 15.4477, 0.0, 0.0, 0, 0, 0]):
    rows.append([2] + v + [gg_ll(v)])
best = mle(gg_ll, [6.2488, 3.7446, 15.4477, 0.0, 0.0, 0.0, 0.0, 0.0], 2, base=3)
rows.append([2] + list(best) + [gg_ll(best)])
out = pd.DataFrame(rows, columns=["model", "r", "alpha0", "a0_or_s", "b0_or_beta0", "g1", "g2", "ga_or_gd", "gb",
                                  "loglik"])
out.to_csv(os.path.join(here, "../data/covariates_loglik.csv"), index=False, float_format="%.17g")
print(out)
