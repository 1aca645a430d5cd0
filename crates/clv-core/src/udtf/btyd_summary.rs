//! `btyd_summary(source [, calibration_end [, time_unit [, holdout_end]]] [, 'name=value' ...])`:
//! the buy-till-you-die summary per customer.
//!
//! Columns `customer_id, x, t_x, t, monetary, first_purchase`, plus `x_holdout, t_holdout` when
//! a holdout end is given. `t_x`, `t` and `t_holdout` are in `time_unit` (`week` by default,
//! `day`, or `month` = 365.25/12 days). See [`crate::plan::btyd`] for the definitions.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::btyd::btyd_summary_plan;
use crate::plan::source::TransactionSource;

/// The positional arguments after the source.
pub const BTYD_POSITIONAL: [&str; 3] = ["calibration_end", "time_unit", "holdout_end"];

/// The `btyd_summary` table function.
#[derive(Debug, Default)]
pub struct BtydSummaryTableFunction;

impl ClvTableFunction for BtydSummaryTableFunction {
    const NAME: &'static str = "btyd_summary";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The buy-till-you-die summary the LTV models fit on, one row per customer: x (repeat purchase periods), t_x, t and monetary in the calibration period, and x_holdout, t_holdout with a holdout end.",
                "btyd_summary(source [, calibration_end [, time_unit [, holdout_end]]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "calibration_end",
                        "inclusive end of the calibration period YYYY-MM-DD (default: the as-of date, else the last transaction)",
                    ),
                    ("time_unit", "day, week (default) or month (365.25/12 days)"),
                    (
                        "holdout_end",
                        "inclusive end of the holdout period YYYY-MM-DD (default: no holdout)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for BtydSummaryTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("btyd_summary", args.exprs(), &BTYD_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(btyd_summary_plan(plan, &options)?, None)))
    }
}
