"""``SET clv.*`` reaches every clv function from Python SQL, the aggregates and windows included.

DataFusion's FFI runs neither an aggregate's nor a window function's ``simplify`` step, where clv
reads its session defaults, nor hands them the session: clv registers them again with the
session's options after each ``SET clv.*`` (``clv.Context.sql``, ``clv.set_option``). Each case
sets one option and checks that the call without the argument gives exactly what the call with
the argument explicit gives, that it differs from the option's default (so the test can fail),
and that it equals the ``clv sql`` binary's result for the same ``SET`` and query (native
DataFusion, where ``simplify`` runs).
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionContext

import clv

from conftest import CDNOW, REPO

SAMPLE = REPO / "testdata" / "cdnow_sample.parquet"
DONATIONS = REPO / "testdata" / "donations_bgbb.csv"

MASTER = "WITH s AS (SELECT * FROM btyd_summary('orders', '1997-09-30')) "
SAMPLE_SUMMARY = (
    "WITH s AS (SELECT * FROM btyd_summary('sample', '1997-09-30', 'week', '1998-06-30', "
    "'customer_column=master_customer_id')) "
)
SBG = (
    "WITH curve(period, active) AS (VALUES (0, 1000), (1, 631), (2, 468), (3, 382), (4, 326)), "
    "rows AS (SELECT period AS t, true AS churned, lag(active) OVER (ORDER BY period) - active AS n FROM curve "
    "UNION ALL SELECT max(period), false, min(active) FROM curve) "
)

# (id, option, value, the call reading the option, the same call with the argument given)
CASES = [
    ("bgnbd_fit", "fit.penalizer", "0.05",
     MASTER + "SELECT bgnbd_fit(x, t_x, t) AS m FROM s",
     MASTER + "SELECT bgnbd_fit(x, t_x, t, 1.0, 'week', 0.05) AS m FROM s"),
    ("pareto_nbd_fit", "fit.penalizer", "0.05",
     MASTER + "SELECT pareto_nbd_fit(x, t_x, t) AS m FROM s",
     MASTER + "SELECT pareto_nbd_fit(x, t_x, t, 1.0, 'week', 0.05) AS m FROM s"),
    ("mbgnbd_fit", "fit.penalizer", "0.05",
     MASTER + "SELECT mbgnbd_fit(x, t_x, t) AS m FROM s",
     MASTER + "SELECT mbgnbd_fit(x, t_x, t, 1.0, 'week', 0.05) AS m FROM s"),
    ("gamma_gamma_fit", "fit.penalizer", "0.05",
     MASTER + "SELECT gamma_gamma_fit(x, monetary) AS m FROM s WHERE x > 0 AND monetary > 0",
     MASTER + "SELECT gamma_gamma_fit(x, monetary, 1.0, 0.05) AS m FROM s WHERE x > 0 AND monetary > 0"),
    ("bgbb_fit", "fit.penalizer", "0.05",
     "SELECT bgbb_fit(frequency, recency, periods, weights) AS m FROM donations",
     "SELECT bgbb_fit(frequency, recency, periods, weights, 0.05) AS m FROM donations"),
    ("sbg_fit", "fit.penalizer", "0.05",
     SBG + "SELECT sbg_fit(t, churned, n) AS m FROM rows WHERE n IS NOT NULL",
     SBG + "SELECT sbg_fit(t, churned, n, 0.05) AS m FROM rows WHERE n IS NOT NULL"),
    # Columns without the unit btyd_summary writes on them (an expression drops it).
    ("bgnbd_fit time_unit", "btyd.time_unit", "day",
     MASTER + "SELECT bgnbd_fit(x, t_x + 0.0, t + 0.0) AS m FROM s",
     MASTER + "SELECT bgnbd_fit(x, t_x + 0.0, t + 0.0, 1.0, 'day') AS m FROM s"),
    ("bgnbd_covariates_fit", "fit.penalizer", "0.05",
     SAMPLE_SUMMARY + "SELECT bgnbd_covariates_fit(x, t_x, t, "
     "named_struct('even', CASE WHEN customer_id % 2 = 0 THEN 1.0 ELSE 0.0 END), NULL) AS m FROM s",
     SAMPLE_SUMMARY + "SELECT bgnbd_covariates_fit(x, t_x, t, "
     "named_struct('even', CASE WHEN customer_id % 2 = 0 THEN 1.0 ELSE 0.0 END), NULL, 'penalizer=0.05') AS m FROM s"),
    ("ltv_compare", "fit.penalizer", "0.05",
     SAMPLE_SUMMARY + "SELECT ltv_compare(x, t_x, t, x_holdout, t_holdout) AS m FROM s",
     SAMPLE_SUMMARY + "SELECT ltv_compare(x, t_x, t, x_holdout, t_holdout, 'penalizer=0.05') AS m FROM s"),
    ("ltv_bootstrap", "ltv.model", "pareto_nbd",
     SAMPLE_SUMMARY + "SELECT ltv_bootstrap(customer_id, x, t_x, t, 'replicates=4', 'seed=1') AS m FROM s",
     SAMPLE_SUMMARY + "SELECT ltv_bootstrap(customer_id, x, t_x, t, 'replicates=4', 'seed=1', "
     "'model=pareto_nbd') AS m FROM s"),
    ("ltv_intervals", "ltv.model", "mbg_nbd",
     SAMPLE_SUMMARY + "SELECT customer_id, ltv_intervals(customer_id, x, t_x, t, 'replicates=4') OVER () AS m "
     "FROM s ORDER BY customer_id",
     SAMPLE_SUMMARY + "SELECT customer_id, ltv_intervals(customer_id, x, t_x, t, 'replicates=4', "
     "'model=mbg_nbd') OVER () AS m FROM s ORDER BY customer_id"),
    ("kmeans_fit", "seed", "7",
     "SELECT kmeans_fit(6, recency_days, frequency, monetary) AS m FROM rfm('orders')",
     "SELECT kmeans_fit(6, 'seed=7', recency_days, frequency, monetary) AS m FROM rfm('orders')"),
    # ntile breaks ties by row position: the window's ORDER BY fixes it (with OVER () the
    # buckets of tied values follow the scan order, which differs between the two engines).
    ("rfm_score", "rfm.method", "ntile",
     "SELECT customer_id, rfm_score(frequency, 5) OVER (ORDER BY customer_id) AS score "
     "FROM rfm('orders') ORDER BY customer_id",
     "SELECT customer_id, rfm_score(frequency, 5, 'higher', 'ntile') OVER (ORDER BY customer_id) AS score "
     "FROM rfm('orders') ORDER BY customer_id"),
]

TABLES = {"orders": CDNOW, "sample": SAMPLE, "donations": DONATIONS}


def _register(ctx: SessionContext) -> SessionContext:
    ctx.register_parquet("orders", str(CDNOW))
    ctx.register_parquet("sample", str(SAMPLE))
    ctx.register_csv("donations", str(DONATIONS))
    return ctx


def _run(ctx: SessionContext, query: str) -> pa.Table:
    return ctx.sql(query).to_arrow_table()


@pytest.mark.parametrize(("option", "value", "implicit", "explicit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_set_reaches_the_function_as_its_argument_does(rust_sql, option, value, implicit, explicit):
    ctx = _register(clv.context())
    default = _run(ctx, implicit)
    ctx.sql(f"SET clv.{option} = '{value}'")
    by_session = _run(ctx, implicit)
    assert by_session.num_rows > 0
    assert by_session.equals(_run(ctx, explicit))
    assert not by_session.equals(default), f"clv.{option} = {value} changed nothing: the test cannot fail"
    rust = rust_sql(f"SET clv.{option} = '{value}'; {implicit}", TABLES)
    assert by_session.equals(rust)


def test_set_option_and_the_context_options_reach_the_functions():
    expected = _run(_register(clv.context()), CASES[0][4])
    ctx = _register(clv.context())
    clv.set_option(ctx, "fit.penalizer", 0.05)
    assert _run(ctx, CASES[0][3]).equals(expected)
    ctx = _register(clv.context(options={"fit.penalizer": 0.05}))
    assert _run(ctx, CASES[0][3]).equals(expected)


def test_a_plain_context_registered_by_clv_handles_set_too():
    expected = _run(_register(clv.context()), CASES[0][4])
    ctx = SessionContext(clv.session_config())
    clv.register(ctx)
    assert isinstance(ctx, clv.Context)
    _register(ctx).sql("SET clv.fit.penalizer = 0.05")
    assert _run(ctx, CASES[0][3]).equals(expected)


class _OwnContext(SessionContext):
    """A user's own context class: clv leaves its class alone."""


def test_a_context_of_another_class_takes_options_through_set_option():
    expected = _run(_register(clv.context()), CASES[0][4])
    ctx = _OwnContext(clv.session_config())
    clv.register(ctx)
    assert type(ctx) is _OwnContext
    clv.set_option(_register(ctx), "fit.penalizer", 0.05)
    assert _run(ctx, CASES[0][3]).equals(expected)
    # Options the session held when clv registered are read then.
    again = _register(_OwnContext(clv.session_config()))
    again.sql("SET clv.fit.penalizer = 0.05")
    clv.register(again)
    assert _run(again, CASES[0][3]).equals(expected)


def test_a_dataframe_keeps_the_options_of_its_session_state():
    ctx = _register(clv.context())
    before = ctx.sql(CASES[0][3])
    default = _run(ctx, CASES[0][3])
    ctx.sql("SET clv.fit.penalizer = 0.05")
    assert before.to_arrow_table().equals(default)
    assert not _run(ctx, CASES[0][3]).equals(default)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SET clv.rfm.bins = 11", r"clv\.rfm\.bins.*between 2 and 10"),
        ("SET clv.fit.penalizer = -1", r"clv\.fit\.penalizer"),
        ("SET clv.colour = 'red'", "unknown clv option 'colour'"),
        ("RESET clv.colour", "unknown clv option 'colour'"),
    ],
)
def test_a_bad_set_raises_and_leaves_the_session_unchanged(statement, message):
    ctx = _register(clv.context(options={"fit.penalizer": 0.05}))
    expected = _run(ctx, CASES[0][3])
    with pytest.raises(RuntimeError, match=message):
        ctx.sql(statement)
    assert _run(ctx, CASES[0][3]).equals(expected)
    assert ctx.sql("SELECT count(*) AS n FROM rfm('orders')").to_pylist()[0]["n"] == 23570


def test_other_statements_are_left_to_the_host():
    ctx = clv.context()
    ctx.sql("SET datafusion.execution.batch_size = 4096")
    with pytest.raises(Exception, match="(?i)sql parser error|expected"):
        ctx.sql("SET clv.")
    assert ctx.sql("SELECT 1 AS one").to_pylist() == [{"one": 1}]
