"""Reference values for clv's churn_features: the prototype's DuckDB feature definitions
(crates/clv-models/tests/reference/churn_features.py) on the bundled CDNOW master file, for every
20th customer at two cutoffs, written next to this script as churn_features_sample.csv.

    python3 crates/clv-core/tests/reference/churn_features_sample.py

The test `churn_model.rs::features_equal_the_duckdb_reference` compares every column with
clv's SQL. Days are whole calendar days; amounts are summed as DECIMAL(38, 9), as clv does.
"""
import os
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "clv-models", "tests", "reference"))
from churn_features import features  # noqa: E402

SOURCE = "'" + os.path.join(HERE, "..", "..", "..", "..", "testdata", "cdnow_master.parquet") + "'"
CUTOFFS = ["1997-03-31", "1997-09-30"]

con = duckdb.connect()
df = features(con, CUTOFFS, SOURCE)
df = df[df.customer_id % 20 == 0].sort_values(["cutoff", "customer_id"])
df["cutoff"] = df["cutoff"].astype(str)
out = os.path.join(HERE, "churn_features_sample.csv")
df.to_csv(out, index=False, float_format="%.17g")
print(f"wrote {len(df)} rows to {out}")
