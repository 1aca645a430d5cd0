#!/usr/bin/env python3
"""Reference values for clv's k-means (crates/clv-models/src/kmeans), from scikit-learn.

Writes, from the CDNOW master file (testdata/cdnow_master.parquet):

* testdata/cdnow_master_rfm.csv -- one row per customer, sorted by customer_id:
  customer_id, recency_days, frequency, monetary, and scikit-learn's cluster labels for
  k = 4, 5, 8 (label_k4, label_k5, label_k8; the best of 10 starts, random_state below).
* testdata/cdnow_master_kmeans_reference.json -- the feature transform (means and population
  standard deviations of the three log features), scikit-learn's best inertia of
  KMeans(n_init=10, random_state=RANDOM_STATE) for k = 4, 5, 8 (and, for information, the best
  over RANDOM_STATES seeds), and the silhouette of the first SILHOUETTE_ROWS customers under
  the k = 5 labels (scikit-learn's, and one computed here from direct differences).

RFM conventions (those of clv's customer summary): as_of = 1998-07-01, the day after the last
transaction (1998-06-30); recency_days = as_of - date of the last purchase; frequency = number of
orders = rows (CDNOW has no refunds: no negative amounts; the 80 rows of amount 0 are orders);
monetary = total spend.

Features (issue 18, the default of clv's k-means): log1p(recency_days), ln(frequency),
log1p(max(monetary, 0)), each standardised to mean 0 and population standard deviation 1.

The RFM columns and the features are computed twice, with pandas/numpy and with DuckDB SQL;
the script stops if the two disagree. The means and standard deviations are exact (math.fsum).

Run from the repository root:  python3 testdata/kmeans_reference.py
(scikit-learn, pandas, duckdb, pyarrow; about three minutes on 2 cores).
"""

import json
import math
import pathlib
import sys

import duckdb
import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

ROOT = pathlib.Path(__file__).resolve().parent
SOURCE = ROOT / "cdnow_master.parquet"
AS_OF = "1998-07-01"
KS = [4, 5, 8]
RANDOM_STATE = 0
RANDOM_STATES = range(10)
SILHOUETTE_ROWS = 2000
SILHOUETTE_K = 5


def rfm_pandas() -> pd.DataFrame:
    tx = pd.read_parquet(SOURCE)
    assert (tx["amount"] >= 0).all(), "CDNOW has no refunds"
    as_of = pd.Timestamp(AS_OF)
    g = tx.groupby("customer_id")
    out = pd.DataFrame(
        {
            "recency_days": (as_of - pd.to_datetime(g["order_date"].max())).dt.days,
            "frequency": g.size(),
            "monetary": g["amount"].sum(),
        }
    )
    return out.sort_index().reset_index()


def rfm_duckdb() -> pd.DataFrame:
    return duckdb.sql(
        f"""
        SELECT customer_id,
               date_diff('day', max(order_date), DATE '{AS_OF}') AS recency_days,
               count(*) AS frequency,
               sum(amount) AS monetary
        FROM read_parquet('{SOURCE}')
        GROUP BY customer_id
        ORDER BY customer_id
        """
    ).df()


def features_numpy(rfm: pd.DataFrame) -> np.ndarray:
    raw = np.column_stack(
        [
            np.log1p(rfm["recency_days"].to_numpy(float)),
            np.log(rfm["frequency"].to_numpy(float)),
            np.log1p(np.maximum(rfm["monetary"].to_numpy(float), 0.0)),
        ]
    )
    return raw


def features_duckdb() -> np.ndarray:
    return duckdb.sql(
        f"""
        WITH rfm AS (
            SELECT customer_id,
                   ln(1 + date_diff('day', max(order_date), DATE '{AS_OF}')) AS r,
                   ln(count(*)) AS f,
                   ln(1 + greatest(sum(amount), 0)) AS m
            FROM read_parquet('{SOURCE}')
            GROUP BY customer_id
        )
        SELECT (r - avg(r) OVER ()) / stddev_pop(r) OVER () AS zr,
               (f - avg(f) OVER ()) / stddev_pop(f) OVER () AS zf,
               (m - avg(m) OVER ()) / stddev_pop(m) OVER () AS zm
        FROM rfm
        ORDER BY customer_id
        """
    ).fetchnumpy()


def silhouette_direct(x: np.ndarray, labels: np.ndarray) -> float:
    """Rousseeuw's silhouette from distances computed as sqrt(sum((x_i - x_j)^2)).

    scikit-learn computes distances as sqrt(|x|^2 - 2 x.y + |y|^2), which differs in the
    12th digit here.
    """
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1))
    groups = np.unique(labels)
    s = np.zeros(len(x))
    for i in range(len(x)):
        same = labels == labels[i]
        if same.sum() < 2:
            continue
        a = dist[i, same].sum() / (same.sum() - 1)
        b = min(dist[i, labels == g].mean() for g in groups if g != labels[i])
        s[i] = (b - a) / max(a, b)
    return float(s.mean())


def main() -> None:
    rfm = rfm_pandas()
    check = rfm_duckdb()
    assert (rfm["customer_id"].to_numpy() == check["customer_id"].to_numpy()).all()
    assert (rfm["recency_days"].to_numpy() == check["recency_days"].to_numpy()).all()
    assert (rfm["frequency"].to_numpy() == check["frequency"].to_numpy()).all()
    assert np.allclose(rfm["monetary"], check["monetary"], rtol=1e-12, atol=1e-9)

    raw = features_numpy(rfm)
    # Exact (math.fsum) means and population standard deviations: numpy's mean(axis=0) of a
    # row-major array adds the rows one by one and is off by ~1e-14 here.
    mean = np.array([math.fsum(c) / len(c) for c in raw.T])
    sd = np.array([math.sqrt(math.fsum((c - m) ** 2) / len(c)) for c, m in zip(raw.T, mean)])
    x = (raw - mean) / sd
    z = features_duckdb()
    xz = np.column_stack([z["zr"], z["zf"], z["zm"]])
    gap = float(np.abs(x - xz).max())
    assert gap < 1e-9, f"numpy and DuckDB features differ by {gap}"

    inertia = {}
    best_over_seeds = {}
    labels = {}
    for k in KS:
        km = KMeans(n_clusters=k, n_init=10, random_state=RANDOM_STATE).fit(x)
        inertia[str(k)] = float(km.inertia_)
        labels[k] = km.labels_
        best = min(
            float(KMeans(n_clusters=k, n_init=10, random_state=s).fit(x).inertia_) for s in RANDOM_STATES
        )
        best_over_seeds[str(k)] = best
        print(f"k={k}: inertia {km.inertia_:.6f} (random_state {RANDOM_STATE}), best over seeds {best:.6f}")

    rows = slice(0, SILHOUETTE_ROWS)
    silhouette = float(silhouette_score(x[rows], labels[SILHOUETTE_K][rows]))
    exact = silhouette_direct(x[rows], labels[SILHOUETTE_K][rows])
    print(f"silhouette of the first {SILHOUETTE_ROWS} customers, k={SILHOUETTE_K}: {silhouette!r} (direct {exact!r})")
    assert abs(silhouette - exact) < 1e-9

    out = rfm.copy()
    for k in KS:
        out[f"label_k{k}"] = labels[k]
    out.to_csv(ROOT / "cdnow_master_rfm.csv", index=False, float_format="%.17g")

    ref = {
        "source": "testdata/cdnow_master.parquet",
        "as_of": AS_OF,
        "customers": int(len(rfm)),
        "features": ["log1p(recency_days)", "ln(frequency)", "log1p(max(monetary, 0))"],
        "feature_mean": mean.tolist(),
        "feature_sd": sd.tolist(),
        "numpy_duckdb_max_abs_gap": gap,
        "sklearn_version": sklearn.__version__,
        "random_state": RANDOM_STATE,
        "n_init": 10,
        "inertia": inertia,
        "inertia_best_over_random_states_0_9": best_over_seeds,
        "silhouette": {"rows": SILHOUETTE_ROWS, "k": SILHOUETTE_K, "sklearn": silhouette, "direct": exact},
    }
    (ROOT / "cdnow_master_kmeans_reference.json").write_text(json.dumps(ref, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
