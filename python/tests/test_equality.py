"""Results through Python equal the Rust/SQL results bit for bit, on CDNOW.

The reference is the same query through the `clv sql` binary (no FFI, no Python), written to
Parquet; the Python side runs it through datafusion-python with clv loaded over the FFI (both the
SQL text and the Pythonic layer). Tables are compared value for value (floats by their bits:
pyarrow's `equals` compares them exactly) and type for type.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import clv

from conftest import CDNOW

CALIBRATION_END = "1997-09-30"

QUERIES = {
    "rfm": "SELECT * FROM rfm('orders') ORDER BY customer_id",
    "bgnbd_fit": f"SELECT bgnbd_fit(x, t_x, t) AS fit FROM btyd_summary('orders', '{CALIBRATION_END}')",
    "bgnbd_predictions": (
        f"WITH s AS (SELECT * FROM btyd_summary('orders', '{CALIBRATION_END}')), "
        "m AS (SELECT bgnbd_fit(x, t_x, t) AS m FROM s) "
        "SELECT s.customer_id, p_alive(m.m, x, t_x, t) AS p_alive, "
        "expected_purchases(m.m, 39, x, t_x, t) AS purchases_39 FROM s CROSS JOIN m ORDER BY s.customer_id"
    ),
    "clv_model": f"SELECT * FROM clv_model('orders', '{CALIBRATION_END}')",
    "clv_predict": f"SELECT * FROM clv_predict('orders', '{CALIBRATION_END}', 39) ORDER BY customer_id",
    "btyd_summary": f"SELECT * FROM btyd_summary('orders', '{CALIBRATION_END}', 'week', '1998-06-30') ORDER BY customer_id",
    "cohorts": "SELECT * FROM cohort_retention('orders', 'month') ORDER BY cohort, period_offset",
    "churn_labels": "SELECT * FROM churn_labels('orders', '1997-06-30,1997-09-30', 'window_days=90') ORDER BY cutoff, customer_id",
}


def _same(python: pa.Table, rust: pa.Table) -> None:
    assert python.column_names == rust.column_names
    assert python.num_rows == rust.num_rows
    for name in python.column_names:
        p, r = python.column(name).combine_chunks(), rust.column(name).combine_chunks()
        assert p.type == r.type, f"{name}: {p.type} != {r.type}"
        assert p.equals(r), f"{name} differs"


@pytest.mark.parametrize("name", QUERIES)
def test_sql_through_python_equals_the_rust_result(cdnow, rust_sql, name):
    python = cdnow.sql(QUERIES[name]).to_arrow_table()
    rust = rust_sql(QUERIES[name], {"orders": CDNOW})
    assert python.num_rows > 0
    _same(python, rust)


def test_the_pythonic_layer_equals_the_sql(cdnow, rust_sql):
    rust = rust_sql(QUERIES["rfm"], {"orders": CDNOW})
    python = clv.rfm(cdnow, "orders").sort("customer_id").to_arrow_table()
    _same(python, rust)
    rust = rust_sql(QUERIES["clv_predict"], {"orders": CDNOW})
    python = clv.predict(cdnow, "orders", calibration_end=CALIBRATION_END, horizon=39)
    _same(python.sort("customer_id").to_arrow_table(), rust)
    rust = rust_sql(QUERIES["cohorts"], {"orders": CDNOW})
    python = clv.cohorts(cdnow, "orders", period="month").sort("cohort", "period_offset")
    _same(python.to_arrow_table(), rust)
    rust = rust_sql(QUERIES["churn_labels"], {"orders": CDNOW})
    python = clv.churn_labels(cdnow, "orders", cutoffs="1997-06-30,1997-09-30", window_days=90)
    _same(python.sort("cutoff", "customer_id").to_arrow_table(), rust)


def test_pandas_and_arrow_input_give_the_same_result(cdnow):
    import pyarrow.parquet as pq

    table = pq.read_table(CDNOW)
    expected = clv.rfm(cdnow, "orders").sort("customer_id").to_arrow_table()
    for data in (table, table.to_pandas()):
        got = clv.rfm(cdnow, data).sort("customer_id").to_arrow_table()
        assert got.equals(expected)
