"""The lifetimes-compatible summary equals lifetimes' own, on the CDNOW sample."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

import clv

from conftest import REPO

SAMPLE = REPO / "testdata" / "cdnow_sample.parquet"
WEEKLY = REPO / "testdata" / "cdnow_sample_summary_weekly_lifetimes.csv"
END = "1997-09-30"


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    merged = ours.merge(theirs, on="customer_id", suffixes=("", "_lifetimes"), validate="1:1")
    assert len(merged) == len(theirs) == len(ours)
    for column in ("frequency", "recency", "T"):
        assert (merged[column] == merged[f"{column}_lifetimes"]).all(), column
    assert (merged["monetary_value"] - merged["monetary_value_lifetimes"]).abs().max() < 1e-9


def test_weekly_summary_equals_lifetimes_published_file(ctx):
    ctx.register_parquet("sample", str(SAMPLE))
    ours = clv.lifetimes_summary(ctx, "sample", calibration_end=END, time_unit="week", collapse="week")
    assert ours.schema().names == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    _compare(ours.to_pandas(), pd.read_csv(WEEKLY))


def test_daily_summary_equals_lifetimes_run_now(ctx):
    utils = pytest.importorskip("lifetimes.utils")
    transactions = pq.read_table(SAMPLE).to_pandas()
    theirs = utils.summary_data_from_transaction_data(
        transactions,
        "customer_id",
        "order_date",
        monetary_value_col="amount",
        observation_period_end=END,
        freq="D",
    ).reset_index()
    ours = clv.lifetimes_summary(ctx, transactions, calibration_end=END, time_unit="day").to_pandas()
    _compare(ours, theirs)
