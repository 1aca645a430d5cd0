"""SET clv.* from Python SQL, errors across the boundary, memory limits, the version check."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from datafusion import RuntimeEnvBuilder, SessionContext

import clv
from clv import _check_datafusion

from conftest import CDNOW


def _max_score(ctx) -> int:
    return ctx.sql("SELECT max(r) AS r, max(f) AS f, max(m) AS m FROM rfm('orders')").to_pylist()[0]


def test_set_clv_options_reach_the_table_functions(cdnow):
    assert _max_score(cdnow) == {"r": 5, "f": 5, "m": 5}
    cdnow.sql("SET clv.rfm.bins = 3").collect()
    # The default segment scheme labels 5 bins: clv says so, through the FFI.
    with pytest.raises(Exception, match="set 'bins=5' or 'scheme=none'"):
        _max_score(cdnow)
    cdnow.sql("SET clv.rfm.scheme = 'none'").collect()
    assert _max_score(cdnow) == {"r": 3, "f": 3, "m": 3}
    # Function arguments still override the session.
    row = cdnow.sql("SELECT max(r) AS r FROM rfm('orders', 'bins=4')").to_pylist()[0]
    assert row == {"r": 4}


def test_set_as_of_equals_the_argument(cdnow):
    by_argument = cdnow.sql(
        "SELECT * FROM rfm('orders', 'as_of=1998-09-30') ORDER BY customer_id"
    ).to_arrow_table()
    clv.set_option(cdnow, "as_of", "1998-09-30")
    by_session = cdnow.sql("SELECT * FROM rfm('orders') ORDER BY customer_id").to_arrow_table()
    assert by_session.equals(by_argument)
    default = clv.context()
    default.register_parquet("orders", str(CDNOW))
    assert not default.sql("SELECT * FROM rfm('orders') ORDER BY customer_id").to_arrow_table().equals(by_session)


def test_context_options(tmp_path):
    ctx = clv.context(options={"rfm.bins": 4, "rfm.scheme": "none"})
    ctx.register_parquet("orders", str(CDNOW))
    assert _max_score(ctx) == {"r": 4, "f": 4, "m": 4}


def test_a_bad_option_value_raises_with_clvs_message(cdnow):
    # clv's context checks the value at SET (test_session_options.py covers every case).
    with pytest.raises(RuntimeError, match=r"clv\.rfm\.bins.*between 2 and 10"):
        cdnow.sql("SET clv.rfm.bins = 11")
    # A value the host stores without clv seeing it (a raw SET on a context of another class)
    # fails the first query that reads it, naming the key.
    ctx = _OwnContext(clv.session_config())
    clv.register(ctx)
    ctx.register_parquet("orders", str(CDNOW))
    ctx.sql("SET clv.rfm.bins = 11").collect()
    with pytest.raises(Exception, match=r"clv\.rfm\.bins.*between 2 and 10"):
        ctx.sql("SELECT * FROM rfm('orders')").collect()


def test_an_unknown_option_raises(cdnow):
    with pytest.raises(RuntimeError, match="unknown clv option 'colour'"):
        cdnow.sql("SET clv.colour = 'red'")
    ctx = _OwnContext(clv.session_config())
    clv.register(ctx)
    ctx.register_parquet("orders", str(CDNOW))
    ctx.sql("SET clv.colour = 'red'").collect()
    with pytest.raises(Exception, match="unknown clv option 'colour'"):
        ctx.sql("SELECT * FROM rfm('orders')").collect()


class _OwnContext(SessionContext):
    """A user's own context class (clv leaves its class, and its SQL, alone)."""


def test_set_needs_clvs_options_in_the_config():
    ctx = SessionContext()
    clv.register(ctx)
    with pytest.raises(Exception, match="clv"):
        ctx.sql("SET clv.rfm.bins = 3").collect()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM rfm('no_such_table_or_file')", "no_such_table_or_file"),
        ("SELECT * FROM rfm('orders', 'bins=1')", "between 2 and 10"),
        ("SELECT * FROM rfm('orders', 'bins=4', 'bins=5')", "give it once"),
        ("SELECT * FROM rfm()", "missing the transactions argument"),
        ("SELECT * FROM btyd_summary('orders', 'July')", "YYYY-MM-DD"),
        ("SELECT rfm_segment(1, 2, 3, 'no_such_scheme')", "no_such_scheme"),
        ("SELECT * FROM clv_predict('orders', '1997-09-30', 39, 'model=nope')", "nope"),
    ],
)
def test_bad_input_raises_a_python_exception_with_clvs_message(cdnow, sql, message):
    with pytest.raises(Exception, match=message):
        cdnow.sql(sql).collect()
    # The interpreter and the session are intact afterwards.
    assert cdnow.sql("SELECT count(*) AS n FROM rfm('orders')").to_pylist()[0]["n"] == 23570


def test_clvs_memory_limit_bounds_clvs_operators():
    ctx = clv.context(memory_limit=64 * 1024)
    ctx.register_parquet("orders", str(CDNOW))
    with pytest.raises(Exception, match="(?i)resources exhausted"):
        ctx.sql("SELECT * FROM rfm('orders')").collect()
    roomy = clv.context(memory_limit=512 * 1024 * 1024)
    roomy.register_parquet("orders", str(CDNOW))
    assert roomy.sql("SELECT count(*) AS n FROM rfm('orders')").to_pylist()[0]["n"] == 23570


def test_the_hosts_memory_pool_alone_does_not_reach_clv():
    """Documented limitation: datafusion-ffi gives a loaded library a default runtime, so a
    host-only limit leaves clv's operators unbounded (clv.context(memory_limit=...) sets both)."""
    ctx = SessionContext(clv.session_config(), RuntimeEnvBuilder().with_fair_spill_pool(64 * 1024))
    clv.register(ctx)
    ctx.from_arrow(pq.read_table(CDNOW), "orders")
    assert ctx.sql("SELECT count(*) AS n FROM rfm('orders')").to_pylist()[0]["n"] == 23570


@pytest.mark.parametrize("version", ["54.0.0", "56.0.0", "dev"])
def test_another_datafusion_major_is_refused(version):
    with pytest.raises(ImportError, match="datafusion >=55,<56"):
        _check_datafusion(version)


def test_datafusion_55_is_accepted():
    _check_datafusion("55.0.0")
    _check_datafusion("55.3.1")
    assert clv._clv.datafusion_major() == 55
