"""Prototype of clv's trained churn score (issue 17): does logistic regression on the default
features reach AUC >= 0.775, Brier <= 0.117 and every decile within 0.07 of the observed
churn rate on CDNOW at cutoff 1997-09-30 (90-day window), trained on earlier cutoffs only?

Input: the CSV written by churn_features.py.  BG/NBD is fitted per cutoff with lifetimes
(weeks; an independent implementation), giving the window probability and the expected
purchases of each customer.  Logistic regression: scikit-learn, lbfgs, on standardised
features; clv's penalty lambda (mean log-loss + lambda/2 |w|^2, intercept free) is
C = 1 / (lambda * n) in scikit-learn.

Usage: python3 churn_prototype.py features.csv
"""
import sys

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from scipy.special import hyp2f1
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

WINDOW_DAYS = 90
SCORE_AT = "1997-09-30"


def bgnbd_features(df):
    """Per cutoff: fit BG/NBD (weeks) on that cutoff's customers; P(no purchase in the window)
    = 1 - P(alive) (1 - ((alpha+T)/(alpha+T+tau))^(r+x)) and E[purchases in the window]."""
    out = []
    for cutoff, g in df.groupby("cutoff", sort=True):
        x, tx, T = g["x"].to_numpy(float), g["t_x"].to_numpy(float) / 7, g["T"].to_numpy(float) / 7
        bg = BetaGeoFitter(penalizer_coef=0.0).fit(x, tx, T)
        r, alpha, a, b = (bg.params_[k] for k in ("r", "alpha", "a", "b"))
        tau = WINDOW_DAYS / 7
        # closed forms (lifetimes returns NaN at x = t_x = T = 0, a customer first seen on the cutoff)
        pa = 1 / (1 + np.where(x > 0, a / np.maximum(b + x - 1, 1e-300), 0) * ((alpha + T) / (alpha + tx)) ** (r + x))
        p_none = 1 - pa * (1 - ((alpha + T) / (alpha + T + tau)) ** (r + x))
        z = tau / (alpha + T + tau)
        e_alive = (a + b + x - 1) / (a - 1) * (
            1 - ((alpha + T) / (alpha + T + tau)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        e = e_alive * pa
        out.append(pd.DataFrame({"p_none": p_none, "e_window": e, "p_alive": pa}, index=g.index))
        print(f"# BG/NBD at {cutoff}: r={r:.4f} alpha={alpha:.4f} a={a:.4f} b={b:.4f}", file=sys.stderr)
    return pd.concat(out).loc[df.index]


def logit(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def design(df, names):
    """The candidate features, each defined from the columns of churn_features.py."""
    F = df["frequency"].to_numpy(float)
    rec = df["recency_days"].to_numpy(float)
    ten = df["tenure_days"].to_numpy(float)
    mon = df["monetary"].to_numpy(float)
    p30, p90, p180 = (df[c].to_numpy(float) for c in ("p30", "p90", "p180"))
    s30, s90, s180 = (df[c].to_numpy(float) for c in ("s30", "s90", "s180"))
    gap = df["median_gap"].to_numpy(float)
    single = np.isnan(gap)
    all_f = {
        "log_recency": np.log1p(rec),
        "log_frequency": np.log(F),
        "log_monetary_mean": np.log1p(mon / F),
        "log_tenure": np.log1p(ten),
        "log_p30": np.log1p(p30),
        "log_p90": np.log1p(p90),
        "log_s30": np.log1p(s30),
        "log_s90": np.log1p(s90),
        # last 90 days against the 90 before them: log((1+p90)/(1+purchases in (c-180, c-90]))
        "trend_p90": np.log1p(p90) - np.log1p(p180 - p90),
        "trend_s90": np.log1p(s90) - np.log1p(s180 - s90),
        # last 30 against the 60 before them (rate per 30 days)
        "trend_p30": np.log1p(p30) - np.log1p((p90 - p30) / 2),
        # recency against the customer's own median gap; 0 for single-purchase customers
        "log_gap_ratio": np.where(single, 0.0, np.log1p(rec) - np.log1p(np.nan_to_num(gap))),
        "single": single.astype(float),
        "logit_p_none": logit(df["p_none"].to_numpy(float)),
        "log_e_window": np.log(np.maximum(df["e_window"].to_numpy(float), 1e-12)),
    }
    return np.column_stack([all_f[n] for n in names])


def deciles(p, y):
    order = np.argsort(p, kind="stable")
    rows = []
    for part in np.array_split(order, 10):
        rows.append((p[part].mean(), y[part].mean(), len(part)))
    return rows


def evaluate(p, y):
    dec = deciles(p, y)
    return {
        "auc": roc_auc_score(y, p),
        "brier": brier_score_loss(y, np.clip(p, 0, 1)) if p.min() >= 0 and p.max() <= 1 else float("nan"),
        "max_decile_gap": max(abs(a - b) for a, b, _ in dec),
        "deciles": dec,
    }


SETS = {
    "rfm": ["log_recency", "log_frequency", "log_monetary_mean", "log_tenure"],
    "rfm+activity": [
        "log_recency", "log_frequency", "log_monetary_mean", "log_tenure",
        "log_p30", "log_p90", "log_s30", "log_s90", "trend_p90", "trend_s90", "trend_p30",
        "log_gap_ratio", "single",
    ],
    "rfm+btyd": [
        "log_recency", "log_frequency", "log_monetary_mean", "log_tenure", "logit_p_none", "log_e_window",
    ],
    "default (rfm+activity+btyd)": [
        "log_recency", "log_frequency", "log_monetary_mean", "log_tenure",
        "log_p30", "log_p90", "log_s30", "log_s90", "trend_p90", "trend_s90", "trend_p30",
        "log_gap_ratio", "single", "logit_p_none", "log_e_window",
    ],
}

TRAIN = {
    "06-30": ["1997-06-30"],
    "01-31..06-30": ["1997-01-31", "1997-02-28", "1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30"],
    "03-31..06-30": ["1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30"],
    "02-28..06-30": ["1997-02-28", "1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30"],
}


def fit_score(df, names, train_cutoffs, lam):
    tr = df[df["cutoff"].isin(train_cutoffs)]
    te = df[df["cutoff"] == SCORE_AT]
    Xtr, Xte = design(tr, names), design(te, names)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd[sd == 0] = 1
    m = LogisticRegression(C=1 / (lam * len(tr)), tol=1e-10, max_iter=10_000)
    m.fit((Xtr - mu) / sd, tr["churned"].to_numpy(int))
    return m.predict_proba((Xte - mu) / sd)[:, 1], te["churned"].to_numpy(int)


def main(path):
    df = pd.read_csv(path, dtype={"cutoff": str})
    df = pd.concat([df, bgnbd_features(df)], axis=1)
    te = df[df["cutoff"] == SCORE_AT]
    y = te["churned"].to_numpy(int)
    print(f"scoring cutoff {SCORE_AT}: {len(te)} customers, churn rate {y.mean():.4f}, "
          f"base-rate Brier {y.mean() * (1 - y.mean()):.4f}")
    print("| score | train cutoffs | lambda | AUC | Brier | max decile gap |")
    print("|---|---|---|---|---|---|")
    base = [
        ("days since last purchase", te["recency_days"].to_numpy(float)),
        ("BG/NBD P(no purchase in window)", te["p_none"].to_numpy(float)),
        ("-E[purchases in window], BG/NBD", -te["e_window"].to_numpy(float)),
        ("1 - P(alive), BG/NBD", 1 - te["p_alive"].to_numpy(float)),
    ]
    for name, s in base:
        e = evaluate(s, y)
        print(f"| {name} | - | - | {e['auc']:.4f} | {e['brier']:.4f} | {e['max_decile_gap']:.4f} |")
    results = {}
    for set_name, names in SETS.items():
        for tr_name, cut in TRAIN.items():
            for lam in (1e-3, 1e-2, 3e-2):
                p, yy = fit_score(df, names, cut, lam)
                e = evaluate(p, yy)
                results[(set_name, tr_name, lam)] = e
                print(f"| LR {set_name} | {tr_name} | {lam:g} | {e['auc']:.4f} | {e['brier']:.4f} | "
                      f"{e['max_decile_gap']:.4f} |")
    return df, results


if __name__ == "__main__":
    main(sys.argv[1])
