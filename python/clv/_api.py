"""The Python API: registration, contexts, and a thin Pythonic layer over clv's SQL."""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any, Union

import datafusion
import pyarrow as pa
from datafusion import DataFrame, RuntimeEnvBuilder, SessionConfig, SessionContext

from clv import _clv

#: A transaction source: a registered table name, a Parquet/CSV file, folder or glob, or a
#: pandas / polars / pyarrow / datafusion table (registered for the call).
Source = Union[str, DataFrame, pa.Table, pa.RecordBatch, Any]

#: An option value: text, a number, a flag, a date or a list (comma-joined).
OptionValue = Union[str, int, float, bool, _dt.date, Iterable[Any], None]

_counter = itertools.count()


def functions() -> list[tuple[str, str]]:
    """Every clv function as ``(name, kind)``, from clv's one function registry.

    ``kind`` is ``table``, ``window``, ``aggregate`` or ``scalar``; this is exactly what
    :func:`register` registers.
    """
    return [(f.name, f.kind) for f in _clv.functions()]


def register(ctx: SessionContext, *, memory_limit: int | None = None) -> list[str]:
    """Register every clv function on ``ctx`` (a ``datafusion.SessionContext``).

    The list comes from clv's one function registry, so nothing is missed or listed twice.
    Table functions are bound to ``ctx`` (its logical codec encodes their arguments); the
    aggregate and window functions that read session options (the fits' ``clv.fit.penalizer``
    and ``clv.btyd.time_unit``, ``rfm_score``'s ``clv.rfm.method``, ``kmeans_fit``'s
    ``clv.seed``, the LTV functions' ``clv.ltv.model``) take ``ctx``'s current ``clv.`` options.

    A plain ``datafusion.SessionContext`` becomes a :class:`Context` (the same object): its
    ``sql()`` then makes ``SET clv.*`` reach those functions too. For a context of another
    class, set options with :func:`set_option` (or call ``register`` again after a ``SET``).

    Args:
        ctx: the session to register on.
        memory_limit: bytes of clv's own memory pool, which bounds clv's operators inside
            table functions. DataFusion's FFI does not pass the host's memory pool or object
            stores to a loaded library (see docs/python.md); ``None`` = unbounded.

    Returns:
        The names registered, in the registry's order.

    ``SET clv.*`` needs clv's options in the context's configuration: build the context with
    :func:`context` or :func:`session_config`.
    """
    names = [_register_function(ctx, f) for f in _clv.functions(memory_limit, ctx)]
    if type(ctx) is SessionContext:
        ctx.__class__ = Context
    return names


def _register_function(ctx: SessionContext, f: Any) -> str:
    if f.kind == "scalar":
        ctx.register_udf(datafusion.udf(f))
    elif f.kind == "aggregate":
        ctx.register_udaf(datafusion.udaf(f))
    elif f.kind == "window":
        ctx.register_udwf(datafusion.udwf(f))
    elif f.kind == "table":
        ctx.register_udtf(datafusion.TableFunction(f.name, f, ctx))
    else:  # pragma: no cover - the registry has four kinds
        msg = f"clv function {f.name} has an unknown kind {f.kind!r}"
        raise TypeError(msg)
    return f.name


def _refresh(ctx: SessionContext) -> None:
    """Register again, with ``ctx``'s current ``clv.`` options, the functions that read them.

    DataFusion's FFI runs neither an aggregate's nor a window function's ``simplify`` step (where
    clv reads the session's options) nor hands them the session: each carries the options it
    was registered with. DataFusion re-registers its own configuration-dependent scalar functions
    after a ``SET`` the same way. DataFrames made before keep the functions (and options) of
    their session state.
    """
    for f in _clv.functions(None, ctx):
        if f.reads_session_options:
            _register_function(ctx, f)


class Context(SessionContext):
    """A ``datafusion.SessionContext`` with clv (what :func:`context` returns).

    It is a real ``SessionContext``; its :meth:`sql` also sees ``SET clv.<key> = <value>``
    (and ``RESET clv.<key>``): clv checks the value first (an unknown key or a bad value raises
    ``RuntimeError`` with clv's message and the session is left unchanged), the session stores
    it, and the aggregate and window functions that read clv's options are registered again
    with the new values, so the next query sees it everywhere.
    """

    def sql(
        self,
        query: str,
        options: Any = None,
        param_values: dict[str, Any] | None = None,
        **named_params: Any,
    ) -> DataFrame:
        """``SessionContext.sql``, with ``SET clv.*`` reaching every clv function."""
        key = _clv.clv_option_statement(query)
        df = super().sql(query, options, param_values, **named_params)
        if key is not None:
            _refresh(self)
        return df


def session_config(config: SessionConfig | None = None) -> SessionConfig:
    """``config`` (or a new ``SessionConfig``) with clv's ``clv.`` options, so ``SET clv.*``
    is accepted by the session and reaches clv's functions."""
    return (config or SessionConfig()).with_extension(_clv.Options())


def context(
    config: SessionConfig | None = None,
    *,
    memory_limit: int | None = None,
    options: Mapping[str, OptionValue] | None = None,
) -> Context:
    """A :class:`Context` (a ``datafusion.SessionContext``) with every clv function and the
    ``clv.`` options; ``SET clv.*`` in its ``sql()`` reaches every clv function.

    Args:
        config: a base configuration (clv's options are added to it).
        memory_limit: bytes; bounds both the session's own operators (a fair spill pool)
            and clv's operators (a second pool of the same size on clv's side of the FFI
            boundary, so the process can use up to twice this).
        options: ``clv.`` options to set, e.g. ``{"as_of": "1998-07-01", "rfm.bins": 4}``.
    """
    runtime = None
    if memory_limit is not None:
        runtime = RuntimeEnvBuilder().with_fair_spill_pool(memory_limit)
    ctx = Context(session_config(config), runtime)
    register(ctx, memory_limit=memory_limit)
    for key, value in (options or {}).items():
        set_option(ctx, key, value)
    return ctx


def set_option(ctx: SessionContext, key: str, value: OptionValue) -> None:
    """``SET clv.<key> = <value>`` on ``ctx``, reaching every clv function (any context).

    The value is checked first: an unknown key or a bad value raises ``RuntimeError`` with
    clv's message, and the session is left unchanged.
    """
    key = key.removeprefix("clv.")
    statement = f"SET clv.{key} = {_quote(_text(value))}"
    if isinstance(ctx, Context):
        ctx.sql(statement)
        return
    _clv.clv_option_statement(statement)
    ctx.sql(statement)
    _refresh(ctx)


def from_frame(ctx: SessionContext, name: str, data: Any) -> DataFrame:
    """Register ``data`` as table ``name`` on ``ctx`` in one call and return it.

    ``data`` may be a pandas or polars DataFrame, a pyarrow Table / RecordBatch / reader, any
    object exporting the Arrow PyCapsule stream interface, or a datafusion DataFrame (then a
    view). pandas indexes are not kept (pass ``df.reset_index()`` to keep one).
    """
    if isinstance(data, DataFrame):
        ctx.register_view(name, data)
        return ctx.table(name)
    if _is_pandas(data):
        data = pa.Table.from_pandas(data, preserve_index=False)
    elif isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    if ctx.table_exist(name):
        ctx.deregister_table(name)
    return ctx.from_arrow(data, name)


def rfm(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """RFM per customer: recency, frequency, monetary, their 1..bins scores and the segment.

    ``SELECT * FROM rfm(source, 'name=value' ...)``; options are clv's (``as_of``, ``bins``,
    ``method``, ``scheme``, ``customer_column``, ...; docs/sql-reference.md).
    """
    return _table_function(ctx, "rfm", source, options)


def btyd_summary(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """The buy-till-you-die summary per customer: ``x``, ``t_x``, ``t``, ``monetary`` (and
    ``x_holdout``, ``t_holdout`` with ``holdout_end``). Options: ``calibration_end``,
    ``time_unit`` (day, week (default), month), ``holdout_end``, any clv option.
    For lifetimes' column names and conventions use :func:`lifetimes_summary`."""
    return _table_function(ctx, "btyd_summary", source, options)


def predict(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """Lifetime value per customer from a fitted buy-till-you-die model (``clv_predict``):
    P(alive), expected purchases over ``horizon``, expected spend and CLV. Options:
    ``calibration_end``, ``horizon``, ``model`` (``ltv.model``), any clv option."""
    return _table_function(ctx, "clv_predict", source, options)


def cohorts(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """Cohort retention (``cohort_retention``): customers of each first-purchase cohort still
    buying in each later period. Options: ``period`` (month, week, ...), any clv option."""
    return _table_function(ctx, "cohort_retention", source, options)


def churn_labels(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """Churn labels per customer and cutoff (``churn_labels``): features as of each cutoff
    and whether the customer bought within ``window_days`` after it. Options: ``cutoffs``,
    ``window_days``, any clv option."""
    return _table_function(ctx, "churn_labels", source, options)


def lifetimes_summary(ctx: SessionContext, source: Source, **options: OptionValue) -> DataFrame:
    """:func:`btyd_summary` under lifetimes' names and conventions, for ported notebooks.

    Columns ``customer_id``, ``frequency`` (= ``x``, repeat purchase periods),
    ``recency`` (= ``t_x``), ``T`` (= ``t``) and ``monetary_value`` (mean spend of the repeat
    purchases, 0 for customers without one, as lifetimes'
    ``summary_data_from_transaction_data``), in the options' ``time_unit`` (clv's default is
    week; lifetimes' ``freq='D'`` is ``time_unit='day'``).
    """
    summary = btyd_summary(ctx, source, **options)
    name = f"__clv_summary_{next(_counter)}"
    ctx.register_view(name, summary)
    customer = str(options.get("customer_column", "customer_id"))
    return ctx.sql(
        f'SELECT "{customer}", x AS frequency, t_x AS recency, t AS "T", '
        f"monetary AS monetary_value FROM {name}"
    )


def _table_function(
    ctx: SessionContext, function: str, source: Source, options: Mapping[str, OptionValue]
) -> DataFrame:
    if not isinstance(source, str):
        name = f"__clv_input_{next(_counter)}"
        from_frame(ctx, name, source)
        source = name
    args = [_quote(source)]
    args += [_quote(f"{k}={_text(v)}") for k, v in options.items() if v is not None]
    return ctx.sql(f"SELECT * FROM {function}({', '.join(args)})")


def _text(value: OptionValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return ",".join(_text(v) for v in value)
    return str(value)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_pandas(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("pandas") and hasattr(data, "to_numpy")
