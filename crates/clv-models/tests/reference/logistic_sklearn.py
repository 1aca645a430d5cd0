"""Reference values for clv's logistic regression (crates/clv-models/src/logistic.rs).

Writes, next to this script:
* logistic_data.csv: 2,000 seeded rows `y, w, x1..x4` (x4 constant-free, features on very
  different scales, integer frequency weights 1..3);
* logistic_reference.csv: `case, term, value` for
  - sklearn_l{lambda}: scikit-learn LogisticRegression(C = 1/(lambda * sum(w)), lbfgs,
    tol 1e-12) on the features standardised with the weighted mean and weighted population
    SD, with sample_weight = w: intercept and coefficients (standardised scale);
  - statsmodels: GLM Binomial with freq_weights = w on the same standardised features
    (lambda = 0): coefficients, standard errors and log-likelihood;
  - statsmodels_original: the same on the original (unstandardised) features.

Run: python3 logistic_sklearn.py   (numpy, scikit-learn, statsmodels)
"""
import os

import numpy as np
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240917)
n = 2000
x1 = rng.normal(0, 1, n)
x2 = rng.exponential(200.0, n)  # days-like scale
x3 = rng.integers(0, 2, n).astype(float)
x4 = np.log1p(rng.poisson(3.0, n)) * 1e-3  # tiny scale
eta = -0.5 + 0.8 * x1 + 0.004 * x2 - 0.7 * x3 + 300.0 * x4
y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
w = rng.integers(1, 4, n).astype(float)
X = np.column_stack([x1, x2, x3, x4])

W = w.sum()
mu = (w[:, None] * X).sum(0) / W
sd = np.sqrt((w[:, None] * (X - mu) ** 2).sum(0) / W)
Z = (X - mu) / sd

rows = []
for lam in (0.001, 0.01, 0.1):
    m = LogisticRegression(C=1 / (lam * W), tol=1e-12, max_iter=100_000).fit(Z, y, sample_weight=w)
    case = f"sklearn_l{lam:g}"
    rows.append((case, "intercept", m.intercept_[0]))
    rows += [(case, f"x{j + 1}", c) for j, c in enumerate(m.coef_[0])]

g = sm.GLM(y, sm.add_constant(Z), family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-14)
terms = ["intercept", "x1", "x2", "x3", "x4"]
rows += [("statsmodels", t, v) for t, v in zip(terms, g.params)]
rows += [("statsmodels_se", t, v) for t, v in zip(terms, g.bse)]
rows.append(("statsmodels", "log_likelihood", g.llf))
g0 = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-14)
rows += [("statsmodels_original", t, v) for t, v in zip(terms, g0.params)]
rows += [("statsmodels_original_se", t, v) for t, v in zip(terms, g0.bse)]

with open(os.path.join(HERE, "logistic_data.csv"), "w") as f:
    f.write("y,w,x1,x2,x3,x4\n")
    for i in range(n):
        f.write(f"{y[i]},{w[i]:.0f},{float(x1[i])!r},{float(x2[i])!r},{x3[i]:.0f},{float(x4[i])!r}\n")
with open(os.path.join(HERE, "logistic_reference.csv"), "w") as f:
    f.write("case,term,value\n")
    for case, term, v in rows:
        f.write(f"{case},{term},{float(v)!r}\n")
print(len(rows), "reference values")
