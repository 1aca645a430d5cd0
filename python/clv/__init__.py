"""clv: customer-value analytics inside DataFusion, from Python.

RFM scores and segments, buy-till-you-die lifetime value (BG/NBD, Pareto/NBD, Gamma-Gamma, ...),
churn labels, lifecycle stages and cohort retention as SQL functions of a
``datafusion.SessionContext`` (datafusion-python 55), loaded through DataFusion's FFI: the data
stays in Arrow, no copy between Python and Rust.

>>> import clv
>>> ctx = clv.context()                       # a datafusion.SessionContext with clv
>>> clv.from_frame(ctx, "orders", orders_df)  # pandas, polars or Arrow
>>> clv.rfm(ctx, "orders").to_pandas()

``clv.register(ctx)`` adds every clv function to an existing context; ``SET clv.*`` options need
the context's configuration to carry clv's options (``clv.context()`` or ``clv.session_config()``)
and reach every clv function through ``clv.Context.sql`` or ``clv.set_option``.
"""

from __future__ import annotations

import datafusion as _datafusion

# The FFI structs are only compatible within one DataFusion major: loading clv into another
# major would crash the interpreter, so refuse before anything crosses the boundary.
_DATAFUSION_MAJOR = 55


def _check_datafusion(version: str) -> None:
    """Raise ImportError unless ``version`` is a DataFusion 55 release."""
    head = version.split(".", 1)[0]
    if not head.isdigit() or int(head) != _DATAFUSION_MAJOR:
        msg = (
            f"clv needs datafusion >={_DATAFUSION_MAJOR},<{_DATAFUSION_MAJOR + 1} "
            f"(it is built on DataFusion {_DATAFUSION_MAJOR}), but datafusion {version} is "
            f"installed: pip install 'datafusion>={_DATAFUSION_MAJOR},<{_DATAFUSION_MAJOR + 1}'"
        )
        raise ImportError(msg)


_check_datafusion(_datafusion.__version__)

from clv import _clv  # noqa: E402  (after the version check, on purpose)
from clv._api import (  # noqa: E402
    Context,
    btyd_summary,
    churn_labels,
    cohorts,
    context,
    from_frame,
    functions,
    lifetimes_summary,
    predict,
    register,
    rfm,
    session_config,
    set_option,
)

__version__: str = _clv.__version__

__all__ = [
    "Context",
    "btyd_summary",
    "churn_labels",
    "cohorts",
    "context",
    "from_frame",
    "functions",
    "lifetimes_summary",
    "predict",
    "register",
    "rfm",
    "session_config",
    "set_option",
]
